//! Uploads on several servers: the kept file in a directory they share, read by any of
//! them, and never written to Redis.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::cluster::{an_upload_on_the_first_of_two, json_call, metric, settled};
use crate::common::processes::Redis;
use crate::common::{browser, call, form, handle_fields};

#[tokio::test]
async fn an_upload_on_one_server_is_transformed_on_both_with_one_memo_table() {
    let redis = Redis::start();
    let client = browser();
    let (_shared, a, b, handle) = an_upload_on_the_first_of_two(&redis, &client).await;

    // B reads the kept file from the shared directory: schema and a page of rows.
    let info = form(&b, &client, "data_info", &handle_fields(&handle)).await;
    assert_eq!(info.status(), StatusCode::OK);
    let info: Value = info.json().await.expect("info");
    assert_eq!(info["columns"][1]["max"], "19.5");

    // The same step on A and on B: one handle (the memo table is shared), the same rows.
    let step = json!({"handle": handle, "step": {"filter": [{"column": "temp", "op": "ge", "value": "10"}]}});
    let on_a = json_call(&a, &client, "data_transform", step.clone()).await;
    let on_b = json_call(&b, &client, "data_transform", step).await;
    assert_eq!(on_a["id"], on_b["id"], "one memo table");
    assert_eq!(on_b["rows"], 1500);
    // A group-by made on B, read on A.
    let group = json!({"handle": on_b, "step": {"group_by": {"keys": ["city"], "aggs": [{"column": "temp", "func": "mean"}]}}});
    let grouped = json_call(&b, &client, "data_transform", group).await;
    let rows = form(
        &a,
        &client,
        "data_rows",
        &[handle_fields(&grouped), vec![("offset", "0".into())]].concat(),
    )
    .await;
    assert_eq!(rows.status(), StatusCode::OK);
    let rows: Value = rows.json().await.expect("rows");
    assert_eq!(rows["total"], 3);

    // A plot made on A (x sorted on the server, written through to Redis), zoomed on B:
    // read back from Redis, its x still flagged sorted.
    let plot = |lo: Option<f64>, hi: Option<f64>| {
        let mut fields = handle_fields(&handle);
        fields.extend([
            ("x", "temp".to_owned()),
            ("y", "temp".to_owned()),
            ("kind", "scatter".to_owned()),
            ("width", "400".to_owned()),
        ]);
        fields.extend(lo.map(|v| ("x_min", v.to_string())));
        fields.extend(hi.map(|v| ("x_max", v.to_string())));
        fields
    };
    let full = form(&a, &client, "data_plot", &plot(None, None)).await;
    assert_eq!(full.status(), StatusCode::OK);
    settled(&redis).await;
    let hits = metric(&b, "stayput_cache_hits_total{tier=\"redis\"}").await;
    let zoomed = form(&b, &client, "data_plot", &plot(Some(2.0), Some(5.0))).await;
    assert_eq!(zoomed.status(), StatusCode::OK, "{:?}", zoomed.text().await);
    let zoomed: Value = zoomed.json().await.expect("figure");
    assert_eq!(zoomed["rows_in_range"], 3000 / 40 * 7, "temps 2.0 to 5.0");
    assert!(
        metric(&b, "stayput_cache_hits_total{tier=\"redis\"}").await > hits,
        "read through Redis"
    );
}

/// An upload's frame is read from its kept file by any server: read whole on the other
/// server (rebuilt from the shared directory), it is not written to Redis either.
#[tokio::test]
async fn an_upload_read_whole_on_the_other_server_is_not_written_to_redis() {
    let redis = Redis::start();
    let client = browser();
    let (_shared, _a, b, handle) = an_upload_on_the_first_of_two(&redis, &client).await;
    let figure = json!({
        "spec": { "x": "row", "y": "temp", "kind": "histogram", "range": [null, null], "width_px": 400, "time_x": false },
        "filters": [],
    });
    let before = metric(&b, "stayput_cache_recomputes_total").await;
    let drawn = call(
        &b,
        &client,
        "linked_figures",
        json!({ "handle": handle, "figures": [figure], "selections": [] }),
    )
    .await;
    assert_eq!(drawn.status(), StatusCode::OK, "{:?}", drawn.text().await);
    assert_eq!(
        metric(&b, "stayput_cache_recomputes_total").await,
        before + 1,
        "B read the whole frame from the kept file"
    );
    settled(&redis).await;
    let key = format!(
        "stayput:frame:*:{}*",
        handle["id"].as_str().expect("id").replace('-', "")
    );
    assert_eq!(redis.count_keys(&key), 0, "no frame of the upload in Redis");
}
