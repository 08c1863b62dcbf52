//! Handles: random ones, and another session's, answer exactly as an unknown one.

use super::*;

/// The answer to the made-up handle: status and body, byte for byte.
pub(crate) async fn unknown_answer(server: &Running, client: &Client) -> Answer {
    let made_up = serde_json::json!({"id": MADE_UP_ID, "rows": 1000, "bytes": 8000});
    let answer = read(frame_mean(server, client, &made_up).await)
        .await
        .expect("read");
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{answer:?}");
    answer
}

#[test]
pub(crate) fn ten_thousand_random_handles_answer_exactly_as_an_unknown_one() {
    let rt = runtime();
    let server = rt.block_on(start(LIMITS));
    let client = stranger();
    rt.block_on(async {
        // A session that holds real frames: random handles must not find them either.
        let mut real = Vec::new();
        for _ in 0..3 {
            let made = create(&server, &client, "1000").await;
            assert_eq!(made.status(), StatusCode::OK);
            real.push(made.json::<Value>().await.expect("handle"));
        }
        let unknown = unknown_answer(&server, &client).await;
        let handles = draw(&random_handle(), 10_000);
        let url = server.url("/api/frame_mean");
        let started = Instant::now();
        let answers: Vec<(RandomHandle, Result<Answer, TestCaseError>)> = futures::stream::iter(handles)
            .map(|handle| {
                let request = client.post(&url).form(&handle.form());
                async move { (handle, send(request).await) }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let elapsed = started.elapsed();
        let differing: Vec<String> = answers
            .iter()
            .filter(|(_, answer)| {
                !matches!(answer, Ok(a) if a.status == unknown.status && a.body == unknown.body)
            })
            .take(5)
            .map(|(handle, answer)| format!("{handle:?} -> {answer:?}"))
            .collect();
        assert!(
            differing.is_empty(),
            "answered unlike the unknown handle ({} {:?}), e.g.:\n{}",
            unknown.status,
            unknown.body,
            differing.join("\n")
        );
        eprintln!("10,000 random handles: all 404, identical body, in {elapsed:?}");
        for handle in &real {
            assert_eq!(
                frame_mean(&server, &client, handle).await.status(),
                StatusCode::OK
            );
        }
    });
    assert_no_server_panic().expect("no panic");
}

/// The median of `samples`, in microseconds.
pub(crate) fn median_us(samples: &mut [Duration]) -> f64 {
    samples.sort_unstable();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

/// `frame_mean` of `handle`, timed from sending to the body's last byte.
pub(crate) async fn timed(server: &Running, client: &Client, handle: &Value) -> (Duration, Answer) {
    let t0 = Instant::now();
    let answer = read(frame_mean(server, client, handle).await)
        .await
        .expect("read");
    (t0.elapsed(), answer)
}

/// Request/answer pairs timed per kind, after a warm-up.
pub(crate) const TIMED_PAIRS: usize = 400;
pub(crate) const WARM_UP_PAIRS: usize = 40;

#[test]
pub(crate) fn another_sessions_handles_answer_exactly_as_unknown_ones_in_status_body_and_time() {
    let rt = runtime();
    let server = rt.block_on(start(LIMITS));
    let (owner, other) = (stranger(), stranger());
    rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..20 {
            let made = create(&server, &owner, "1000").await;
            assert_eq!(made.status(), StatusCode::OK);
            handles.push(made.json::<Value>().await.expect("handle"));
        }
        let started = send(other.post(server.url("/api/start_session")))
            .await
            .expect("session");
        assert_eq!(started.status, StatusCode::OK);
        let unknown = unknown_answer(&server, &other).await;

        // Every handle of the owner, from the other session: exactly the unknown answer,
        // on every endpoint that takes a handle or an id; so are spellings of its id
        // that a lenient parser might take for the same UUID.
        let made_up = serde_json::json!({"id": MADE_UP_ID, "rows": 1000, "cols": 1, "bytes": 8000});
        for handle in &handles {
            let answer = read(frame_mean(&server, &other, handle).await)
                .await
                .expect("read");
            assert_eq!(
                (answer.status, &answer.body),
                (unknown.status, &unknown.body),
                "{handle}"
            );
            let id = field(handle, "id");
            for spelling in [
                id.to_uppercase(),
                format!("{{{id}}}"),
                format!("urn:uuid:{id}"),
                id.replace('-', ""),
                format!(" {id} "),
            ] {
                let mut variant = handle.clone();
                variant["id"] = Value::from(spelling.as_str());
                let answer = read(frame_mean(&server, &other, &variant).await)
                    .await
                    .expect("read");
                assert_eq!(
                    (answer.status, &answer.body),
                    (unknown.status, &unknown.body),
                    "{spelling}"
                );
            }
            for endpoint in ["frame_histogram", "frame_columns", "explore_figure", "drop_frame"] {
                let form = |h: &Value| {
                    let mut form = match endpoint {
                        "drop_frame" => vec![("id".to_owned(), field(h, "id"))],
                        _ => handle_form("handle", h),
                    };
                    if endpoint == "explore_figure" {
                        for (k, v) in [("x", "row"), ("y", "value"), ("kind", "line"), ("width", "800")] {
                            form.push((k.to_owned(), v.to_owned()));
                        }
                    }
                    form
                };
                let url = server.url(&format!("/api/{endpoint}"));
                let foreign = send(other.post(&url).form(&form(handle))).await.expect("foreign");
                let unknown_here = send(other.post(&url).form(&form(&made_up)))
                    .await
                    .expect("unknown");
                assert_eq!(
                    (foreign.status, &foreign.body),
                    (unknown_here.status, &unknown_here.body),
                    "/api/{endpoint}"
                );
                assert!(foreign.status.is_client_error() || endpoint == "drop_frame");
            }
        }
        // None of that touched the owner's frames.
        for handle in &handles {
            assert_eq!(frame_mean(&server, &owner, handle).await.status(), StatusCode::OK);
        }

        // Timing. Both kinds of request are timed alternately on the same connection
        // (which goes first alternates too), so whatever else loads this machine (other
        // tests, builds; 2 cores) falls on both alike, and medians ignore the stalls.
        // The bound is generous on purpose: loopback latency of a debug build under load
        // varies by tens of percent between runs, while a lookup that treated a foreign
        // handle differently (a second lookup, a decryption, a log line with a backtrace,
        // a rebuild attempt) would cost a multiple. So: medians differ by less than
        // 1 ms or half the larger, whichever is more.
        let fresh_ids = draw(&random_handle(), WARM_UP_PAIRS + TIMED_PAIRS);
        let (mut foreign_times, mut unknown_times) = (Vec::new(), Vec::new());
        for (i, made_up) in fresh_ids.iter().enumerate() {
            let foreign = &handles[i % handles.len()];
            let mut made_up_handle = foreign.clone();
            made_up_handle["id"] = Value::from(made_up.id.as_str());
            let ((foreign_time, foreign_answer), (unknown_time, unknown_answer)) = if i % 2 == 0 {
                let a = timed(&server, &other, foreign).await;
                (a, timed(&server, &other, &made_up_handle).await)
            } else {
                let b = timed(&server, &other, &made_up_handle).await;
                (timed(&server, &other, foreign).await, b)
            };
            assert_eq!(foreign_answer.body, unknown.body);
            assert_eq!(unknown_answer.body, unknown.body, "{made_up:?}");
            if i >= WARM_UP_PAIRS {
                foreign_times.push(foreign_time);
                unknown_times.push(unknown_time);
            }
        }
        let foreign = median_us(&mut foreign_times);
        let unknown = median_us(&mut unknown_times);
        let bound = f64::max(1_000.0, 0.5 * foreign.max(unknown));
        eprintln!(
            "median latency over {TIMED_PAIRS} each: foreign {foreign:.0} µs, made-up {unknown:.0} µs \
             (bound {bound:.0} µs)"
        );
        assert!(
            (foreign - unknown).abs() < bound,
            "a foreign handle takes {foreign:.0} µs, a made-up one {unknown:.0} µs: distinguishable"
        );
    });
    assert_no_server_panic().expect("no panic");
}
