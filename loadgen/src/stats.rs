//! Latencies and errors by kind of client and server function.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Whether the campaign met its goals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    Fail(String),
}

#[derive(Default)]
struct Calls {
    millis: Vec<f64>,
    /// Errors by HTTP status (0: the request itself failed).
    errors: BTreeMap<u16, u64>,
}

/// Sorted latencies (ms) and errors by status, by (kind of client, server function).
type Sorted = BTreeMap<(String, String), (Vec<f64>, BTreeMap<u16, u64>)>;

/// Every call, by (kind of client, server function).
#[derive(Default)]
pub(crate) struct Stats {
    calls: Mutex<BTreeMap<(String, String), Calls>>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn status_name(status: u16) -> String {
    match status {
        0 => "no answer".to_owned(),
        400 => "400 bad request".to_owned(),
        404 => "404 unknown".to_owned(),
        413 => "413 too large".to_owned(),
        429 => "429 session busy".to_owned(),
        503 => "503 busy".to_owned(),
        other => other.to_string(),
    }
}

impl Stats {
    pub(crate) fn record(&self, kind: &str, function: &str, took: Duration, error: Option<u16>) {
        let mut calls = self
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = calls.entry((kind.to_owned(), function.to_owned())).or_default();
        entry.millis.push(took.as_secs_f64() * 1e3);
        if let Some(status) = error {
            *entry.errors.entry(status).or_default() += 1;
        }
    }

    fn sorted(&self) -> Sorted {
        let calls = self
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        calls
            .iter()
            .map(|(k, c)| {
                let mut millis = c.millis.clone();
                millis.sort_by(f64::total_cmp);
                (k.clone(), (millis, c.errors.clone()))
            })
            .collect()
    }

    /// A Markdown table: per kind and function, calls, calls/s (over `length` when not
    /// zero), p50, p99, errors by kind.
    pub(crate) fn table(&self, length: Duration) -> String {
        let mut out = String::from(
            "| clients | server function | calls | calls/s | p50 | p99 | errors |\n|---|---|---:|---:|---:|---:|---|\n",
        );
        for ((kind, function), (millis, errors)) in self.sorted() {
            let rate = if length.is_zero() {
                "–".to_owned()
            } else {
                format!("{:.0}", millis.len() as f64 / length.as_secs_f64())
            };
            let errors = if errors.is_empty() {
                "0".to_owned()
            } else {
                errors
                    .iter()
                    .map(|(status, n)| format!("{n} × {}", status_name(*status)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push_str(&format!(
                "| {kind} | {function} | {} | {rate} | {:.1} ms | {:.1} ms | {errors} |\n",
                millis.len(),
                percentile(&millis, 0.5),
                percentile(&millis, 0.99),
            ));
        }
        out
    }

    /// Median latency (all functions) of `kind` over that of `baseline`.
    pub(crate) fn median_ratio(&self, kind: &str, baseline: &str) -> f64 {
        let all = self.sorted();
        let median = |wanted: &str| {
            let mut millis: Vec<f64> = all
                .iter()
                .filter(|((k, _), _)| k == wanted)
                .flat_map(|(_, (m, _))| m.iter().copied())
                .collect();
            millis.sort_by(f64::total_cmp);
            percentile(&millis, 0.5)
        };
        median(kind) / median(baseline)
    }

    /// Pass when the clients of `well_behaved` kinds saw no error at all.
    pub(crate) fn verdict(&self, well_behaved: &[&str]) -> Verdict {
        let failed: u64 = self
            .sorted()
            .iter()
            .filter(|((kind, _), _)| well_behaved.contains(&kind.as_str()))
            .map(|(_, (_, errors))| errors.values().sum::<u64>())
            .sum();
        if failed == 0 {
            Verdict::Pass
        } else {
            Verdict::Fail(format!("well-behaved sessions saw {failed} errors"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_verdicts() {
        let stats = Stats::default();
        for ms in 1..=100 {
            stats.record("good", "f", Duration::from_millis(ms), None);
        }
        stats.record("bad", "f", Duration::from_millis(5), Some(503));
        assert_eq!(stats.verdict(&["good"]), Verdict::Pass);
        assert!(matches!(stats.verdict(&["good", "bad"]), Verdict::Fail(_)));
        let table = stats.table(Duration::from_secs(10));
        assert!(
            table.contains("| good | f | 100 | 10 | 51.0 ms | 99.0 ms | 0 |"),
            "{table}"
        );
        assert!(table.contains("1 × 503 busy"), "{table}");
        assert!((stats.median_ratio("bad", "good") - 5.0 / 51.0).abs() < 1e-9);
    }
}
