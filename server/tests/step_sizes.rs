//! `/data` steps admitted by what they will really take, through the real router: a join
//! counts the list items and text its repeated keys multiply (not 8 bytes a value), and
//! every step reserves its chain's peak before polars starts a collect it cannot stop.

use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;
use common::{browser, call, error_of, start, upload, Running};

/// NDJSON of `rows` records, all with the key `"a"`, each with a list of `items` numbers.
fn lists(rows: usize, items: usize) -> Vec<u8> {
    let list: Vec<String> = (0..items).map(|i| i.to_string()).collect();
    let line = format!("{{\"k\":\"a\",\"v\":[{}]}}\n", list.join(","));
    line.repeat(rows).into_bytes()
}

/// A CSV of `rows` rows, all with the key `a`, each with a text of `chars` characters.
fn texts(rows: usize, chars: usize) -> Vec<u8> {
    let mut csv = String::from("k,t\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "a,{}\n",
            char::from(b'a' + (i % 26) as u8).to_string().repeat(chars)
        ));
    }
    csv.into_bytes()
}

async fn handle_of(server: &Running, client: &reqwest::Client, name: &str, body: Vec<u8>) -> Value {
    let made = upload(server, client, name, body).await;
    assert_eq!(made.status(), StatusCode::OK, "{name} is taken");
    made.json().await.expect("handle")
}

async fn self_join(server: &Running, client: &reqwest::Client, handle: &Value) -> reqwest::Response {
    let join = json!({"handle": handle, "step": {"join": {"other": handle, "on": "k", "how": "inner"}}});
    call(server, client, "data_transform", join).await
}

#[tokio::test]
async fn a_join_counts_the_list_items_its_keys_multiply() {
    let server = start(&[("STAYPUT_SESSION_QUOTA", "512MiB")]).await;
    let client = browser();
    // 300 rows of one key, each with 2,000 numbers: 90,000 joined rows of 4,000 numbers,
    // 2.9 GB. Counted at 8 bytes a value (the check before), it was 2.9 MB and ran.
    let handle = handle_of(&server, &client, "lists.ndjson", lists(300, 2_000)).await;
    let answer = self_join(&server, &client, &handle).await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let message = error_of(answer).await.to_string();
    assert!(message.contains("list items"), "{message}");
    assert!(message.contains("90000 rows"), "{message}");

    // The same shape with two numbers a row fits, and joins to what the check counted.
    let small = handle_of(&server, &client, "small.ndjson", lists(300, 2)).await;
    let joined = self_join(&server, &client, &small).await;
    assert_eq!(joined.status(), StatusCode::OK);
    let joined: Value = joined.json().await.expect("joined");
    assert_eq!(
        (joined["rows"].as_u64(), joined["cols"].as_u64()),
        (Some(90_000), Some(3))
    );
}

#[tokio::test]
async fn a_join_counts_the_text_its_keys_multiply() {
    let server = start(&[("STAYPUT_SESSION_QUOTA", "512MiB")]).await;
    let client = browser();
    // 300 rows of one key with 20,000 characters each: 90,000 joined rows of 40 KB.
    let handle = handle_of(&server, &client, "texts.csv", texts(300, 20_000)).await;
    let answer = self_join(&server, &client, &handle).await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let message = error_of(answer).await.to_string();
    assert!(message.contains("text"), "{message}");
    // Short texts: the same join fits.
    let short = handle_of(&server, &client, "short.csv", texts(300, 4)).await;
    assert_eq!(self_join(&server, &client, &short).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_step_reserves_its_chains_peak_before_it_runs() {
    // A frame of ~4.8 MB (200,000 rows × 3 numbers): a sort holds it twice and its index.
    let mut csv = String::from("a,b,c\n");
    for i in 0..200_000u64 {
        csv.push_str(&format!("{},{},{}\n", i % 977, i, i * 3));
    }
    let sort =
        |handle: &Value| json!({"handle": handle, "step": {"sort": {"column": "a", "descending": true}}});

    // A quota the frame fits in, its sort's peak does not: refused before polars runs.
    let tight = start(&[
        ("STAYPUT_SESSION_QUOTA", "8MiB"),
        ("STAYPUT_MEMORY_BUDGET", "64MiB"),
    ])
    .await;
    let client = browser();
    let handle = handle_of(&tight, &client, "n.csv", csv.clone().into_bytes()).await;
    let answer = call(&tight, &client, "data_transform", sort(&handle)).await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let message = error_of(answer).await.to_string();
    assert!(message.contains("STAYPUT_SESSION_QUOTA"), "{message}");

    // With room for the peak, the same step runs.
    let roomy = start(&[
        ("STAYPUT_SESSION_QUOTA", "32MiB"),
        ("STAYPUT_MEMORY_BUDGET", "64MiB"),
    ])
    .await;
    let client = browser();
    let handle = handle_of(&roomy, &client, "n.csv", csv.into_bytes()).await;
    let sorted = call(&roomy, &client, "data_transform", sort(&handle)).await;
    assert_eq!(sorted.status(), StatusCode::OK);
    let sorted: Value = sorted.json().await.expect("sorted");
    assert_eq!(sorted["rows"], 200_000);
}
