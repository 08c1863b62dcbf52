//! `/data` on uploads larger than memory, through the real router and the real disk: an
//! upload whose frame is over the session quota is kept without being read whole and
//! placed on disk; its schema, pages and plots are read a batch at a time; steps that
//! stream are written straight into the disk tier; what would hold it whole (a sorted
//! page) is refused with its reason.

use app::contract::data::DOWNLOAD_PATH;
use polars::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;
use common::{browser, call, counted, error_of, form, handle_fields, start, upload, Running};

const ROWS: u64 = 300_000;

/// Column `c` of row `i`: `a` cycles through 977 values, `b` counts rows, the others
/// are multiples of it.
fn value(c: u64, i: u64) -> f64 {
    match c {
        0 => (i % 977) as f64,
        _ => (i * c) as f64,
    }
}

fn name(c: u64) -> String {
    match c {
        0 => "a".to_owned(),
        1 => "b".to_owned(),
        c => format!("v{c}"),
    }
}

/// 300,000 rows × 16 f64 columns: 38.4 MB in memory, as an Arrow IPC file of record
/// batches of `batch` rows.
fn wide_arrow(batch: usize) -> Vec<u8> {
    let columns: Vec<Column> = (0..16)
        .map(|c| {
            Column::new(
                name(c).into(),
                (0..ROWS).map(|i| value(c, i)).collect::<Vec<f64>>(),
            )
        })
        .collect();
    let frame = DataFrame::new(ROWS as usize, columns).expect("frame");
    // A chunk a batch: the writer writes each chunk as its own record batch.
    let mut chunked = frame.slice(0, batch);
    for at in (batch..frame.height()).step_by(batch) {
        chunked
            .vstack_mut(&frame.slice(at as i64, batch))
            .expect("stacked");
    }
    let mut file = Vec::new();
    IpcWriter::new(&mut file).finish(&mut chunked).expect("arrow");
    file
}

/// The same rows as CSV text.
fn wide_csv() -> Vec<u8> {
    let mut text = (0..16).map(name).collect::<Vec<_>>().join(",");
    text.push('\n');
    for i in 0..ROWS {
        let row: Vec<String> = (0..16).map(|c| value(c, i).to_string()).collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    text.into_bytes()
}

/// A server where one frame may take 32 MiB of memory, with 512 MiB on disk.
async fn server(extra: &[(&'static str, &'static str)]) -> Running {
    let mut vars = vec![
        ("STAYPUT_SESSION_QUOTA", "32MiB"),
        ("STAYPUT_MEMORY_BUDGET", "64MiB"),
        ("STAYPUT_DISK_BUDGET", "512MiB"),
    ];
    vars.extend_from_slice(extra);
    start(&vars).await
}

/// Rows of the upload with `a` under 10.
fn small_a() -> u64 {
    (0..ROWS).filter(|i| i % 977 < 10).count() as u64
}

#[tokio::test]
async fn an_arrow_upload_over_the_quota_is_placed_on_disk_and_used_a_batch_at_a_time() {
    let server = server(&[]).await;
    let client = browser();
    let made = upload(&server, &client, "wide.arrow", wide_arrow(20_000)).await;
    assert_eq!(made.status(), StatusCode::OK, "taken, not refused");
    let handle: Value = made.json().await.expect("handle");
    assert_eq!(
        (handle["rows"].as_u64(), handle["cols"].as_u64()),
        (Some(ROWS), Some(16))
    );

    // Its schema and ranges, read a batch at a time.
    let info: Value = form(&server, &client, "data_info", &handle_fields(&handle))
        .await
        .json()
        .await
        .expect("info");
    assert_eq!(info["columns"][0]["min"], "0.0", "{info}");
    assert_eq!(info["columns"][0]["max"], "976.0");
    assert_eq!(info["columns"][1]["max"], (ROWS - 1).to_string() + ".0");

    // A page, not sorted: read from the file.
    let mut fields = handle_fields(&handle);
    fields.push(("offset", "5".into()));
    let page: Value = form(&server, &client, "data_rows", &fields)
        .await
        .json()
        .await
        .expect("rows");
    assert_eq!(page["rows"][0][1], "5.0", "{page}");
    assert_eq!(page["total"], ROWS);
    // Sorted: it would hold the frame whole, so it is refused with the reason.
    fields.push(("sort[column]", "b".into()));
    fields.push(("sort[descending]", "true".into()));
    let sorted = form(&server, &client, "data_rows", &fields).await;
    assert_eq!(sorted.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let message = error_of(sorted).await.to_string();
    assert!(message.contains("filter it first"), "{message}");

    // A plot of two of its columns: the rest never read, the two sorted in memory.
    let mut fields = handle_fields(&handle);
    fields.extend([
        ("x", "b".into()),
        ("y", "v3".into()),
        ("kind", "line".into()),
        ("width", "400".into()),
    ]);
    let plot = form(&server, &client, "data_plot", &fields).await;
    assert_eq!(plot.status(), StatusCode::OK, "{:?}", error_of(plot).await);
    let plot: Value = plot.json().await.expect("figure");
    assert_eq!(plot["rows_in_range"], ROWS);

    // Linked figures over it: its first whole read writes it into the disk tier batch by
    // batch and maps it; a histogram of `a` counts every row, and against a brush on
    // `a` below 10, exactly those rows.
    let figure = |kind: &str, y: &str, filters: &[usize]| json!({ "spec": { "x": "row", "y": y, "kind": kind, "range": [null, null], "width_px": 400, "time_x": false }, "filters": filters });
    let figures = json!([
        figure("histogram", "a", &[]),
        figure("histogram", "a", &[0]),
        figure("line", "v3", &[0]),
    ]);
    let brush = json!([[{ "range": { "column": "a", "lo": 0.0, "hi": 9.5 } }]]);
    let linked = call(
        &server,
        &client,
        "linked_figures",
        json!({ "handle": handle, "figures": figures, "selections": brush }),
    )
    .await;
    assert_eq!(linked.status(), StatusCode::OK, "{:?}", error_of(linked).await);
    let linked: Value = linked.json().await.expect("figures");
    assert_eq!(counted(&linked[0]), ROWS);
    assert_eq!(counted(&linked[1]), small_a());
    assert_eq!(linked[2]["rows_in_range"].as_u64(), Some(small_a()));
    let totals = server.stayput.cache.totals();
    assert!(
        totals.cold.expect("disk").1.bytes >= 16 * 8 * ROWS,
        "on disk whole"
    );
    assert!(
        totals.memory.bytes <= 2 * 8 * ROWS,
        "in memory only the plot's two columns: {}",
        totals.memory.bytes
    );

    // A download of it, written a batch at a time: every row, as CSV.
    let id = handle["id"].as_str().expect("id");
    let csv = client
        .get(server.url(&format!("{DOWNLOAD_PATH}?handle={id}&format=csv")))
        .send()
        .await
        .expect("send");
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.expect("csv");
    assert_eq!(text.lines().count() as u64, ROWS + 1, "a header and every row");
    assert!(
        text.lines()
            .nth(6)
            .is_some_and(|l| l.starts_with("5.0,5.0,10.0,15.0,")),
        "in order"
    );

    // A filter streams straight into the disk tier; its frame holds exactly the rows.
    let before = server.stayput.cache.totals().cold.expect("disk").1.entries;
    let filter = json!({"handle": handle, "step": {"filter": [{"column": "a", "op": "lt", "value": "10"}]}});
    let filtered = call(&server, &client, "data_transform", filter).await;
    assert_eq!(filtered.status(), StatusCode::OK);
    let filtered: Value = filtered.json().await.expect("filtered");
    assert_eq!(filtered["rows"].as_u64(), Some(small_a()));
    assert_eq!(filtered["cols"].as_u64(), Some(16));
    let totals = server.stayput.cache.totals();
    assert_eq!(
        totals.cold.expect("disk").1.entries,
        before + 1,
        "written on disk"
    );
    let info: Value = form(&server, &client, "data_info", &handle_fields(&filtered))
        .await
        .json()
        .await
        .expect("info");
    assert_eq!(info["columns"][0]["max"], "9.0", "{info}");

    // Steps that hold their input whole (a sort) or groups nothing bounds (a group-by by
    // a column of distinct values) are still refused before they run, naming the quota.
    let sort = json!({"handle": handle, "step": {"sort": {"column": "a", "descending": false}}});
    let group = json!({"handle": handle, "step": {"group_by": {"keys": ["b"], "aggs": [{"column": "a", "func": "sum"}]}}});
    for step in [sort, group] {
        let answer = call(&server, &client, "data_transform", step).await;
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let message = error_of(answer).await.to_string();
        assert!(message.contains("STAYPUT_SESSION_QUOTA"), "{message}");
    }

    // After the filter, steps are sized by the rows it kept (counted when it was made):
    // a group-by, a sort and a plot of the filtered frame run, the filter streamed over
    // the file again and only what they hold in memory.
    let group = json!({"handle": filtered, "step": {"group_by": {"keys": ["a"], "aggs": [{"column": "b", "func": "count"}]}}});
    let grouped = call(&server, &client, "data_transform", group).await;
    assert_eq!(grouped.status(), StatusCode::OK, "{:?}", error_of(grouped).await);
    let grouped: Value = grouped.json().await.expect("grouped");
    assert_eq!(grouped["rows"].as_u64(), Some(10));
    let sort = json!({"handle": filtered, "step": {"sort": {"column": "b", "descending": true}}});
    let sorted = call(&server, &client, "data_transform", sort).await;
    assert_eq!(sorted.status(), StatusCode::OK, "{:?}", error_of(sorted).await);
    let sorted: Value = sorted.json().await.expect("sorted");
    let mut fields = handle_fields(&sorted);
    fields.push(("offset", "0".into()));
    let page: Value = form(&server, &client, "data_rows", &fields)
        .await
        .json()
        .await
        .expect("rows");
    let last = (0..ROWS).rev().find(|i| i % 977 < 10).expect("a row");
    assert_eq!(page["rows"][0][1], format!("{last}.0"), "{page}");
    let mut fields = handle_fields(&filtered);
    fields.extend([
        ("x", "b".into()),
        ("y", "v3".into()),
        ("kind", "line".into()),
        ("width", "400".into()),
    ]);
    let plot = form(&server, &client, "data_plot", &fields).await;
    assert_eq!(plot.status(), StatusCode::OK, "{:?}", error_of(plot).await);
    let plot: Value = plot.json().await.expect("figure");
    assert_eq!(plot["rows_in_range"].as_u64(), Some(small_a()));
}

#[tokio::test]
async fn a_csv_over_the_quota_parsed_as_it_arrived_is_placed_on_disk() {
    // Parsed while it arrives from 1 MiB of text on: kept without a second read.
    let server = server(&[("STAYPUT_UPLOAD_PIECE", "1MiB")]).await;
    let client = browser();
    let made = upload(&server, &client, "wide.csv", wide_csv()).await;
    assert_eq!(made.status(), StatusCode::OK, "taken, not refused");
    let handle: Value = made.json().await.expect("handle");
    assert_eq!(handle["rows"].as_u64(), Some(ROWS));
    let filter = json!({"handle": handle, "step": {"filter": [{"column": "a", "op": "lt", "value": "10"}]}});
    let filtered = call(&server, &client, "data_transform", filter).await;
    assert_eq!(filtered.status(), StatusCode::OK);
    let filtered: Value = filtered.json().await.expect("filtered");
    assert_eq!(filtered["rows"].as_u64(), Some(small_a()));
    // Run over the kept file straight into the disk tier: the upload was never read
    // into memory, nor was the filter's frame.
    let totals = server.stayput.cache.totals();
    assert_eq!(
        totals.cold.expect("disk").1.entries,
        1,
        "the filter's frame on disk"
    );
    assert_eq!(totals.memory.bytes, 0, "nothing in memory");
}

#[tokio::test]
async fn without_room_on_disk_an_upload_over_the_quota_is_refused_naming_the_disk() {
    let server = start(&[
        ("STAYPUT_SESSION_QUOTA", "32MiB"),
        ("STAYPUT_MEMORY_BUDGET", "64MiB"),
        ("STAYPUT_DISK_BUDGET", "48MiB"),
        ("STAYPUT_UPLOAD_MAX", "48MiB"),
    ])
    .await;
    let client = browser();
    let rows = 4_000_000u64;
    let column = |name: &str, k: u64| {
        Column::new(
            name.into(),
            (0..rows).map(|i| (i * k) as f64).collect::<Vec<f64>>(),
        )
    };
    let mut frame = DataFrame::new(rows as usize, vec![column("x", 1), column("y", 3)]).expect("frame");
    // 64 MB in memory, compressed to a part of it: over the quota and the disk budget.
    let mut file = Vec::new();
    IpcWriter::new(&mut file)
        .with_compression(Some(IpcCompression::ZSTD(Default::default())))
        .finish(&mut frame)
        .expect("arrow");
    let answer = upload(&server, &client, "big.arrow", file).await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let message = error_of(answer).await.to_string();
    assert!(message.contains("STAYPUT_DISK_BUDGET"), "{message}");
    assert_eq!(server.stayput.cache.totals().memory.bytes, 0);
}

#[tokio::test]
async fn an_upload_over_the_quota_whose_one_batch_is_too_large_to_read_by_batches_is_refused() {
    let server = server(&[]).await;
    let client = browser();
    // One record batch of 38.4 MB: read a batch at a time, it would be held whole.
    let answer = upload(&server, &client, "one.arrow", wide_arrow(ROWS as usize)).await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let message = error_of(answer).await.to_string();
    assert!(message.contains("record batch"), "{message}");
    assert!(message.contains("smaller record batches"), "{message}");
    assert_eq!(server.stayput.cache.totals().cold.expect("disk").1.entries, 0);
    // The same rows in batches of 20,000 (2.6 MB) are taken.
    let taken = upload(&server, &client, "many.arrow", wide_arrow(20_000)).await;
    assert_eq!(taken.status(), StatusCode::OK);
}
