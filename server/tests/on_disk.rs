//! `/explore`'s frames larger than memory over HTTP: the sizes on offer follow the disk
//! budget, a Make past memory is made on disk and drawn, and one past the disk budget
//! is refused with its reason, nothing written.

mod common;

use common::{browser, error_of, form, start};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn uniform_randoms_past_memory_are_made_on_disk_and_drawn() {
    // Quota 32 MiB: 4,194,304 rows in memory; on disk, 512 MiB.
    let server = start(&[
        ("STAYPUT_MEMORY_BUDGET", "64MiB"),
        ("STAYPUT_DISK_BUDGET", "512MiB"),
    ])
    .await;
    let alice = browser();
    let limits: Value = form(&server, &alice, "explore_limits", &[])
        .await
        .json()
        .await
        .expect("limits");
    assert_eq!(limits["uniform_memory_rows"], 4_194_304);
    // On disk, what the figure store (1/32 of the memory budget, about 2 MiB) holds the
    // pyramid of, at 33 bytes a 256 rows (the file would hold 66,977,792).
    let pyramid_rows = server.stayput.pyramids.budget() * 256 / 33;
    assert!((16_000_000..16_500_000).contains(&pyramid_rows), "{pyramid_rows}");
    assert_eq!(limits["uniform_max_rows"], pyramid_rows);
    assert_eq!(
        limits["series_max_rows"], 1_048_576,
        "the time series stays in memory"
    );

    let fields = |rows: &str| {
        vec![
            ("kind", "uniform".to_owned()),
            ("rows", rows.to_owned()),
            ("chart", "line".to_owned()),
            ("width", "800".to_owned()),
        ]
    };
    let response = form(&server, &alice, "explore_make", &fields("16000000")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let made: Value = response.json().await.expect("json");
    assert_eq!(made["handle"]["rows"], 16_000_000);
    assert_eq!(made["figure"]["rows_in_range"], 16_000_000);
    assert_eq!(made["figure"]["points"], 1_600);
    let totals = server.stayput.cache.totals();
    assert_eq!(totals.memory.bytes, 0, "nothing of it in memory");
    assert!(
        totals.cold.expect("disk").1.bytes >= 128_000_000,
        "all of it on disk"
    );

    // The cache page lists it on disk.
    let listing: Value = form(&server, &alice, "cache_view", &[])
        .await
        .json()
        .await
        .expect("listing");
    assert_eq!(listing["entries"][0]["residence"], "Disk", "{listing}");

    // Past the disk budget: refused with the budget named, nothing made.
    let response = form(&server, &alice, "explore_make", &fields("100000000")).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error = error_of(response).await.to_string();
    assert!(error.contains("disk"), "{error}");
    assert_eq!(
        server.stayput.cache.totals().cold.expect("disk").1.entries,
        1,
        "nothing more written"
    );
}
