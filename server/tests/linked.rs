//! `/linked` over real HTTP: a frame's figures re-aggregated against each other's
//! selections (ranges, categories, a lasso), bad selections refused with a 400 that names
//! the problem, a foreign handle answered exactly like an unknown one, and a selection
//! kept as a step of its own.

mod common;

use common::{browser, call, counted, error_of, form, handle_fields, start, upload};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// 900 rows: `v` = row mod 100, `city` cycling Oslo, Rome, Lima.
fn csv() -> Vec<u8> {
    let mut out = String::from("v,city\n");
    for i in 0..900 {
        out.push_str(&format!("{},{}\n", i % 100, ["Oslo", "Rome", "Lima"][i % 3]));
    }
    out.into_bytes()
}

fn figure(kind: &str, x: &str, y: &str, filters: &[usize]) -> Value {
    json!({
        "spec": { "x": x, "y": y, "kind": kind, "range": [null, null], "width_px": 400, "time_x": false },
        "filters": filters,
    })
}

fn range(column: &str, lo: f64, hi: f64) -> Value {
    json!({ "range": { "column": column, "lo": lo, "hi": hi } })
}

#[tokio::test]
async fn each_figure_is_re_aggregated_against_the_other_figures_selections() {
    let server = start(&[]).await;
    let alice = browser();
    let handle: Value = upload(&server, &alice, "cities.csv", csv())
        .await
        .json()
        .await
        .expect("handle");
    let linked = |figures: Value, selections: Value| {
        let (alice, server, handle) = (&alice, &server, handle.clone());
        async move {
            call(
                server,
                alice,
                "linked_figures",
                json!({ "handle": handle, "figures": figures, "selections": selections }),
            )
            .await
        }
    };

    // v in [10, 19] brushed on the histogram (figure 0); Oslo picked on the bars (figure 1).
    let selections =
        json!([[range("v", 10.0, 19.0)], [{ "categories": { "column": "city", "values": ["Oslo"] } }]]);
    let figures = json!([
        figure("histogram", "row", "v", &[1]),
        figure("bar", "city", "", &[0]),
        figure("line", "row", "v", &[0, 1]),
        figure("histogram", "row", "v", &[]),
    ]);
    let response = linked(figures, selections).await;
    assert_eq!(response.status(), StatusCode::OK);
    let drawn: Vec<Value> = response.json().await.expect("figures");
    assert_eq!(drawn.len(), 4);
    assert_eq!(counted(&drawn[0]), 300, "the histogram holds Oslo's rows");
    assert_eq!(
        counted(&drawn[1]),
        90,
        "the bars hold the brushed rows, every city"
    );
    assert_eq!(
        drawn[2]["rows_in_range"], 30,
        "both selections: Oslo and v in [10, 19]"
    );
    assert_eq!(counted(&drawn[3]), 900, "no selection: every row");

    // A lasso around rows 0..=99 with v below 50: 50 rows.
    let lasso = json!([[{ "polygon": { "x": "row", "y": "v", "points": [[-0.5, -1.0], [99.5, -1.0], [99.5, 49.5], [-0.5, 49.5]] } }]]);
    let response = linked(json!([figure("histogram", "row", "v", &[0])]), lasso).await;
    assert_eq!(response.status(), StatusCode::OK);
    let drawn: Vec<Value> = response.json().await.expect("figures");
    assert_eq!(counted(&drawn[0]), 50);

    // A selection that keeps nothing draws an empty figure, not an error.
    let response = linked(
        json!([figure("line", "row", "v", &[0])]),
        json!([[range("v", 500.0, 600.0)]]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let drawn: Vec<Value> = response.json().await.expect("figures");
    assert_eq!(drawn[0]["points"], 0);
}

#[tokio::test]
async fn bad_selections_get_a_400_that_names_the_problem() {
    let server = start(&[]).await;
    let alice = browser();
    let handle: Value = upload(&server, &alice, "cities.csv", csv())
        .await
        .json()
        .await
        .expect("handle");
    let line = || json!([figure("line", "row", "v", &[0])]);
    let refused = |selections: Value| {
        let (alice, server, handle, figures) = (&alice, &server, handle.clone(), line());
        async move {
            let response = call(
                server,
                alice,
                "linked_figures",
                json!({ "handle": handle, "figures": figures, "selections": selections }),
            )
            .await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            error_of(response).await.to_string()
        }
    };
    let unknown = refused(json!([[range("nope", 0.0, 1.0)]])).await;
    assert!(unknown.contains("no column named \"nope\""), "{unknown}");
    let inverted = refused(json!([[range("v", 5.0, 1.0)]])).await;
    assert!(inverted.contains("inverted"), "{inverted}");
    let text = refused(json!([[range("city", 0.0, 1.0)]])).await;
    assert!(text.contains("not numeric"), "{text}");
    let points: Vec<[f64; 2]> = (0..5_000).map(|i| [i as f64, (i % 7) as f64]).collect();
    let huge = refused(json!([[{ "polygon": { "x": "row", "y": "v", "points": points } }]])).await;
    assert!(huge.contains("vertices"), "{huge}");
    let missing = refused(json!([])).await;
    assert!(missing.contains("selection"), "{missing}");

    // NaN is not JSON: the request does not decode, and says so with a 400.
    let body = format!(
        r#"{{"handle":{handle},"figures":{figures},"selections":[[{{"range":{{"column":"v","lo":NaN,"hi":1}}}}]]}}"#,
        figures = line()
    );
    let response = alice
        .post(server.url("/api/linked_figures"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Bob's view of Alice's handle reads exactly like a handle nobody has.
    let bob = browser();
    let _ = upload(&server, &bob, "mine.csv", csv()).await;
    let ask = |client: &reqwest::Client, handle: Value| {
        let (client, server) = (client.clone(), &server);
        async move {
            let response = call(
                server,
                &client,
                "linked_figures",
                json!({ "handle": handle, "figures": line(), "selections": [[range("v", 0.0, 1.0)]] }),
            )
            .await;
            (response.status(), response.text().await.expect("body"))
        }
    };
    let foreign = ask(&bob, handle.clone()).await;
    let mut made_up = handle.clone();
    made_up["id"] = json!("0123456789abcdef0123456789abcdef");
    let unknown = ask(&bob, made_up).await;
    assert_eq!(foreign.0, StatusCode::NOT_FOUND);
    assert_eq!(foreign, unknown);
}

#[tokio::test]
async fn a_selection_is_kept_as_a_step_with_its_lineage() {
    let server = start(&[]).await;
    let alice = browser();
    let handle: Value = upload(&server, &alice, "cities.csv", csv())
        .await
        .json()
        .await
        .expect("handle");
    let step = json!({ "within": [range("v", 10.0, 19.0), { "categories": { "column": "city", "values": ["Rome", "Lima"] } }] });
    let response = call(
        &server,
        &alice,
        "data_transform",
        json!({ "handle": handle, "step": step }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let kept: Value = response.json().await.expect("handle");
    assert_eq!(kept["rows"], 60);
    let info: Value = form(&server, &alice, "data_info", &handle_fields(&kept))
        .await
        .json()
        .await
        .expect("info");
    let labels: Vec<&str> = info["chain"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["label"].as_str())
        .collect();
    assert_eq!(
        labels,
        ["upload cities.csv", "keep v in [10, 19] and city in 2 values"]
    );
    let bad = json!({ "within": [range("v", 3.0, 1.0)] });
    let response = call(
        &server,
        &alice,
        "data_transform",
        json!({ "handle": handle, "step": bad }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
