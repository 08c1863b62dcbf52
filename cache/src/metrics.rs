//! Counters of the cache and their Prometheus text rendering.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::inspect::Totals;

/// Why an entry's data left a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionCause {
    /// The global memory budget was exceeded.
    Budget,
    /// The session exceeded its own quota.
    Quota,
    /// The entry was not used within the idle timeout.
    Idle,
    /// The cold tier ran out of its own budget.
    ColdBudget,
    /// The session ended or expired.
    SessionEnd,
    /// Someone dropped it on purpose (`/cache`).
    Dropped,
    /// Its owner released it ([`crate::FrameCache::release`]); its lineage stays.
    Released,
    /// Its session stored more frames than `CacheConfig::max_frames_per_session`; the
    /// entry is forgotten, lineage included.
    FrameCap,
}

impl EvictionCause {
    const ALL: [Self; 8] = [
        Self::Budget,
        Self::Quota,
        Self::Idle,
        Self::ColdBudget,
        Self::SessionEnd,
        Self::Dropped,
        Self::Released,
        Self::FrameCap,
    ];

    /// Position in the counters array: the declaration order, which `ALL` follows.
    fn index(self) -> usize {
        self as usize
    }

    fn label(self) -> &'static str {
        match self {
            Self::Budget => "memory_budget",
            Self::Quota => "session_quota",
            Self::Idle => "idle",
            Self::ColdBudget => "cold_budget",
            Self::SessionEnd => "session_end",
            Self::Dropped => "dropped",
            Self::Released => "released",
            Self::FrameCap => "frame_cap",
        }
    }
}

/// Monotonic counters, updated lock-free.
#[derive(Debug, Default)]
pub struct Counters {
    pub(crate) hits_memory: AtomicU64,
    pub(crate) hits_cold: AtomicU64,
    /// Reads served from the shared store (Redis).
    pub(crate) hits_shared: AtomicU64,
    /// Frames written through to the shared store.
    pub(crate) shared_writes: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) memo_hits: AtomicU64,
    pub(crate) recomputes: AtomicU64,
    pub(crate) spills: AtomicU64,
    evictions: [AtomicU64; EvictionCause::ALL.len()],
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn evicted(&self, cause: EvictionCause, n: u64) {
        self.evictions[cause.index()].fetch_add(n, Ordering::Relaxed);
    }

    /// Evictions so far for `cause`.
    pub fn evictions(&self, cause: EvictionCause) -> u64 {
        self.evictions[cause.index()].load(Ordering::Relaxed)
    }

    /// Reads rebuilt from lineage so far.
    pub fn recomputes(&self) -> u64 {
        self.recomputes.load(Ordering::Relaxed)
    }

    /// Memoized calls answered with an existing handle so far.
    pub fn memo_hits(&self) -> u64 {
        self.memo_hits.load(Ordering::Relaxed)
    }

    /// Frames moved from memory to the cold tier so far.
    pub fn spills(&self) -> u64 {
        self.spills.load(Ordering::Relaxed)
    }

    /// Reads served from the shared store (Redis) so far.
    pub fn shared_hits(&self) -> u64 {
        self.hits_shared.load(Ordering::Relaxed)
    }

    /// Frames written through to the shared store so far.
    pub fn shared_writes(&self) -> u64 {
        self.shared_writes.load(Ordering::Relaxed)
    }

    /// Reads that found nothing (unknown or expired) so far.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// The counters and `totals` in Prometheus text format (version 0.0.4); every
    /// metric name starts with `stayput_`.
    pub fn render(&self, totals: &Totals) -> String {
        let mut out = String::new();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let mut bytes = vec![(r#"{tier="memory"}"#.to_owned(), totals.memory.bytes)];
        let mut entries = vec![(r#"{tier="memory"}"#.to_owned(), totals.memory.entries)];
        let mut budgets = vec![(r#"{tier="memory"}"#.to_owned(), totals.memory.budget)];
        if let Some((name, cold)) = &totals.cold {
            bytes.push((format!(r#"{{tier="{name}"}}"#), cold.bytes));
            entries.push((format!(r#"{{tier="{name}"}}"#), cold.entries));
            budgets.push((format!(r#"{{tier="{name}"}}"#), cold.budget));
        }
        entries.push((r#"{tier="gone"}"#.to_owned(), totals.gone));
        for (name, help, values) in [
            ("stayput_cache_bytes", "Bytes of frames held, per tier.", &bytes),
            (
                "stayput_cache_entries",
                "Entries held, per tier (gone: lineage only).",
                &entries,
            ),
            (
                "stayput_cache_budget_bytes",
                "Configured byte budget, per tier.",
                &budgets,
            ),
        ] {
            let samples: Vec<(&str, u64)> = values.iter().map(|(l, n)| (l.as_str(), *n)).collect();
            family(name, "gauge", help, &samples);
        }
        family(
            "stayput_sessions",
            "gauge",
            "Sessions holding at least one entry.",
            &[("", totals.sessions)],
        );
        family(
            "stayput_cache_hits_total",
            "counter",
            "Reads served, per tier.",
            &[
                (r#"{tier="memory"}"#, load(&self.hits_memory)),
                (r#"{tier="cold"}"#, load(&self.hits_cold)),
                (r#"{tier="redis"}"#, load(&self.hits_shared)),
            ],
        );
        family(
            "stayput_cache_misses_total",
            "counter",
            "Reads of unknown or expired handles.",
            &[("", load(&self.misses))],
        );
        family(
            "stayput_cache_memo_hits_total",
            "counter",
            "Memoized calls answered with an existing handle.",
            &[("", load(&self.memo_hits))],
        );
        family(
            "stayput_cache_recomputes_total",
            "counter",
            "Frames rebuilt from their lineage.",
            &[("", load(&self.recomputes))],
        );
        family(
            "stayput_cache_redis_writes_total",
            "counter",
            "Frames written through to the shared store (Redis).",
            &[("", load(&self.shared_writes))],
        );
        family(
            "stayput_cache_spills_total",
            "counter",
            "Frames moved from memory to the cold tier.",
            &[("", load(&self.spills))],
        );
        let labels: Vec<String> = EvictionCause::ALL
            .iter()
            .map(|c| format!(r#"{{cause="{}"}}"#, c.label()))
            .collect();
        let samples: Vec<(&str, u64)> = EvictionCause::ALL
            .iter()
            .zip(&labels)
            .map(|(c, l)| (l.as_str(), self.evictions(*c)))
            .collect();
        family(
            "stayput_cache_evictions_total",
            "counter",
            "Entries whose data left a tier, by cause.",
            &samples,
        );
        out
    }
}
