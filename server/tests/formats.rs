//! The formats people bring, over HTTP on a real socket: a gzip'd CSV unpacked as it
//! arrives becomes the same frame as the CSV, and a gzip bomb is a 413 at its ratio with
//! nothing left on disk; a CSV's missing-value spellings read as missing.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::StatusCode;
use serde_json::Value;

mod common;
use common::{browser, error_of, form, handle_fields, start, upload};

fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), level);
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

#[tokio::test]
async fn a_gzipd_csv_becomes_the_frame_of_the_csv_and_a_bomb_is_refused() {
    let server = start(&[]).await;
    let client = browser();
    let weather = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/examples/seattle-weather.csv"),
    )
    .expect("run scripts/setup: it installs the examples");
    let plain: Value = upload(&server, &client, "weather.csv", weather.clone())
        .await
        .json()
        .await
        .expect("handle");
    let made = upload(
        &server,
        &client,
        "weather.csv.gz",
        gzip(&weather, Compression::default()),
    )
    .await;
    assert_eq!(made.status(), StatusCode::OK);
    let packed: Value = made.json().await.expect("handle");
    assert_eq!(
        (packed["rows"].as_u64(), packed["cols"].as_u64()),
        (Some(1_461), Some(6))
    );
    assert_eq!(packed["bytes"], plain["bytes"], "the same frame");

    let kept_before = std::fs::read_dir(server.cache_dir().join("uploads"))
        .expect("uploads")
        .count();
    // 512 MiB of one repeated line in well under a MiB: refused at the ratio, long before
    // the upload limit (2 GiB by default).
    let mut text = String::from("a,b\n");
    text.push_str(&"0,0\n".repeat(1 << 20));
    let block = gzip(text.as_bytes(), Compression::best());
    let mut bomb = Vec::new();
    for _ in 0..128 {
        bomb.extend_from_slice(&block); // gzip members one after another unpack as one file
    }
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    let refused = upload(&server, &client, "bomb.csv.gz", bomb).await;
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let err = error_of(refused).await.to_string();
    assert!(err.contains("gzip bomb"), "{err}");
    let kept_after = std::fs::read_dir(server.cache_dir().join("uploads"))
        .expect("uploads")
        .count();
    assert_eq!(kept_after, kept_before, "nothing left of the bomb");
}

/// The spellings of a missing value a CSV holds are read as missing (the check notes
/// them as the upload streams in, and the parse is given only those), and a text that
/// merely starts like one is a value.
#[tokio::test]
async fn a_csvs_missing_value_spellings_read_as_missing() {
    let server = start(&[]).await;
    let client = browser();
    let mut text = String::from("x,y,z\r\n");
    for i in 0..5_000 {
        let y = match i % 4 {
            0 => "NA".to_owned(),
            1 => "#N/A".to_owned(),
            _ => format!("{i}.5"),
        };
        let z = if i % 3 == 0 { "NAB" } else { "Nancy" };
        text.push_str(&format!("{i},{y},{z}\r\n"));
    }
    let made = upload(&server, &client, "missing.csv", text.into_bytes()).await;
    assert_eq!(made.status(), StatusCode::OK);
    let handle: Value = made.json().await.expect("handle");
    let info: Value = form(&server, &client, "data_info", &handle_fields(&handle))
        .await
        .json()
        .await
        .expect("info");
    let columns = info["columns"].as_array().expect("columns");
    assert_eq!(columns[1]["dtype"], "f64", "{columns:?}");
    assert_eq!(columns[1]["nulls"], 2_500, "NA and #N/A are missing");
    assert_eq!(columns[2]["dtype"], "str");
    assert_eq!(columns[2]["nulls"], 0, "NAB and Nancy are values");
}

#[tokio::test]
async fn json_and_ndjson_become_frames_and_a_deep_file_is_a_400() {
    let server = start(&[]).await;
    let client = browser();
    let cars = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../node_modules/vega-datasets/data/cars.json"),
    )
    .expect("run scripts/setup: it installs vega-datasets");
    let made = upload(&server, &client, "cars.json", cars).await;
    assert_eq!(made.status(), StatusCode::OK);
    let handle: Value = made.json().await.expect("handle");
    assert_eq!(
        (handle["rows"].as_u64(), handle["cols"].as_u64()),
        (Some(406), Some(9))
    );
    let lines = b"{\"city\": \"Oslo\", \"temp\": 4.5}\n{\"city\": \"Rome\", \"temp\": 18.0}\n".to_vec();
    let made = upload(&server, &client, "cities.jsonl", lines).await;
    assert_eq!(made.status(), StatusCode::OK);
    let handle: Value = made.json().await.expect("handle");
    assert_eq!(
        (handle["rows"].as_u64(), handle["cols"].as_u64()),
        (Some(2), Some(2))
    );

    let deep = format!("[{{\"a\": {}1{}}}]", "[".repeat(100_000), "]".repeat(100_000));
    let refused = upload(&server, &client, "deep.json", deep.into_bytes()).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let err = error_of(refused).await.to_string();
    assert!(err.contains("nested more than 64 levels"), "{err}");
    // The server is still there.
    let again = upload(&server, &client, "again.json", b"[{\"a\": 1}]".to_vec()).await;
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_excel_workbook_becomes_a_frame_its_sheet_chosen_by_name() {
    let server = start(&[]).await;
    let client = browser();
    let book = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/tests/fixtures/seattle-weather.xlsx"),
    )
    .expect("the workbook fixture");
    let made = upload(&server, &client, "seattle-weather.xlsx", book.clone()).await;
    assert_eq!(made.status(), StatusCode::OK);
    let handle: Value = made.json().await.expect("handle");
    assert_eq!(
        (handle["rows"].as_u64(), handle["cols"].as_u64()),
        (Some(28), Some(9))
    );
    let info: Value = form(&server, &client, "data_info", &handle_fields(&handle))
        .await
        .json()
        .await
        .expect("info");
    assert_eq!(info["columns"][0]["name"], "date");
    assert_eq!(info["columns"][0]["min"], "2012-01-01 00:00:00");

    let sheet = |name: &str| {
        format!(
            "{}?name=seattle-weather.xlsx&sheet={name}",
            app::contract::data::UPLOAD_PATH
        )
    };
    let send = |path: String| {
        client
            .post(server.url(&path))
            .header("content-type", "application/octet-stream")
            .body(book.clone())
            .send()
    };
    let totals = send(sheet("Totals")).await.expect("send");
    assert_eq!(totals.status(), StatusCode::OK);
    let totals: Value = totals.json().await.expect("handle");
    assert_eq!(
        (totals["rows"].as_u64(), totals["cols"].as_u64()),
        (Some(3), Some(2))
    );

    let missing = send(sheet("Summary")).await.expect("send");
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let err = error_of(missing).await.to_string();
    assert!(
        err.contains("Summary") && err.contains("Weather, Totals"),
        "{err}"
    );

    // An old binary workbook: 415, saying what to do.
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.extend_from_slice(&[0; 504]);
    let old = upload(&server, &client, "report.xls", ole).await;
    assert_eq!(old.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(error_of(old).await.to_string().contains("save it as .xlsx"));
}

/// A CSV of `rows` records that tries what a piece could get wrong: quoted separators,
/// doubled quotes and line breaks in quotes, dates, and `NA` first met far into the file.
fn tricky_csv(rows: usize) -> Vec<u8> {
    let mut out = String::from("id,x,name,day\n");
    for i in 0..rows {
        let x = if i > 20_000 && i % 97 == 0 {
            "NA".to_owned()
        } else {
            format!("{:.2}", (i % 1_000) as f64 / 3.0)
        };
        let name = match i % 7 {
            0 => "\"Smith, \"\"Jo\"\"\"".to_owned(),
            1 => format!("\"two\nlines {i}\""),
            _ => format!("n{}", i % 100),
        };
        out.push_str(&format!(
            "{i},{x},{name},2024-{:02}-{:02}\n",
            1 + i % 12,
            1 + i % 28
        ));
    }
    out.into_bytes()
}

/// A CSV larger than a piece (64 KiB here, 16 MiB by default) is parsed while it arrives
/// over a real socket: the same frame and figure as a server that reads it whole once
/// complete (`STAYPUT_UPLOAD_PIECE=0`), and `/metrics` counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_csv_parsed_while_it_arrives_is_the_frame_read_whole() {
    let text = tricky_csv(30_000);
    let mut answers = Vec::new();
    for piece in ["64KiB", "0"] {
        let server = start(&[("STAYPUT_UPLOAD_PIECE", piece)]).await;
        let client = browser();
        let made = upload(&server, &client, "tricky.csv", text.clone()).await;
        assert_eq!(made.status(), StatusCode::OK, "{piece}");
        let handle: Value = made.json().await.expect("handle");
        assert_eq!(
            (handle["rows"].as_u64(), handle["cols"].as_u64()),
            (Some(30_000), Some(4)),
            "{piece}"
        );
        let mut fields = handle_fields(&handle);
        fields.extend([
            ("x", "id".into()),
            ("y", "x".into()),
            ("kind", "line".into()),
            ("width", "300".into()),
        ]);
        let plot = form(&server, &client, "data_plot", &fields).await;
        assert_eq!(plot.status(), StatusCode::OK, "{piece}");
        let figure: Value = plot.json().await.expect("figure");
        let metrics = client
            .get(server.url("/metrics"))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("metrics");
        let streamed = metrics
            .lines()
            .find_map(|l| l.strip_prefix("stayput_uploads_streamed_total "))
            .map(str::to_owned);
        answers.push((handle["bytes"].clone(), figure, streamed));
    }
    assert_eq!(answers[0].2.as_deref(), Some("1"), "parsed while it arrived");
    assert_eq!(answers[1].2.as_deref(), Some("0"), "read whole");
    // Its size is polars' estimate of the buffers, and text held in pieces takes a few
    // bytes more or less than text held whole.
    let (a, b) = (
        answers[0].0.as_u64().expect("bytes"),
        answers[1].0.as_u64().expect("bytes"),
    );
    assert!(a.abs_diff(b) * 100 < b, "about the same frame size: {a} and {b}");
    assert!(!answers[0].1.is_null());
    assert_eq!(answers[0].1, answers[1].1, "the same figure");
}
