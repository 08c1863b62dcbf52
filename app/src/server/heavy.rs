//! Bounded heavy work: a limit on concurrent large jobs (fills, series, client-mode
//! transfers, reads that rebuild an evicted frame), a short bounded queue, and load
//! shedding beyond it, so a crowd of large requests cannot take the whole machine and
//! small requests never queue behind them.
//!
//! A job is heavy from [`HEAVY_ROWS`] rows. It takes one of `slots` permits; when all are
//! taken it may wait in a queue of `queue` places for at most `wait`; a full queue or a
//! wait that runs out is answered at once with [`StayputError::Busy`] (503 and
//! `Retry-After`).
//!
//! Two lanes, each with its own permits and queue: jobs under [`LARGE_ROWS`] and jobs from
//! it. A 1e6-row request costs 1 % of a 1e8 fill; in one queue, twenty 1e8 requests shed
//! it (issue 23: 32 × 503 and a median of 729 ms for a user at 1e6). Lanes were chosen
//! over cost-weighted fair queueing by session: two semaphores keep admission O(1) and
//! easy to reason about, the memory reservation already bounds what the large lane can
//! hold, and a session cannot fill the small lane with large work by splitting it (the
//! lane is chosen by the size of each job, and `per_session` still caps each session). One session holds at most `per_session` permits (429 beyond), so one
//! browser cannot take every slot; requests without a session share one session's
//! permits (503 beyond), so cookie-less clients cannot take them either.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use stayput_cache::SessionKey;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::contract::StayputError;
use crate::server::places::{Place, Places};
use crate::server::work::Work;

/// Rows from which a job takes a slot: 1e6 rows of f64 are 8 MB and ~1 ms of fill per
/// core; below that, work is too short to be worth queueing.
pub const HEAVY_ROWS: u64 = 1_000_000;

/// Rows from which a heavy job runs in the large lane: ten times [`HEAVY_ROWS`].
pub const LARGE_ROWS: u64 = 10 * HEAVY_ROWS;

/// The limits, from the server's settings (per lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeavyLimits {
    /// Heavy jobs running at once.
    pub slots: usize,
    /// Heavy jobs waiting at once; beyond, requests are shed.
    pub queue: usize,
    /// Longest wait in the queue.
    pub wait: Duration,
}

impl HeavyLimits {
    /// One slot per core, a queue as long again, waits up to 10 s.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            slots: cores,
            queue: cores,
            wait: Duration::from_secs(10),
        }
    }

    /// Most slots one session may hold: half of them, at least one.
    fn per_session(&self) -> usize {
        (self.slots / 2).max(1)
    }
}

/// The admission of heavy jobs; shared by every request (cheap to clone).
#[derive(Debug, Clone)]
pub struct HeavyJobs {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    limits: HeavyLimits,
    /// Jobs under [`LARGE_ROWS`], then jobs from it.
    lanes: [Lane; 2],
    /// Permits held per session; `None` counts every request without a session
    /// together, as one session.
    by_session: Places<Option<SessionKey>>,
}

/// One lane's permits and queue.
#[derive(Debug)]
struct Lane {
    slots: Arc<Semaphore>,
    queued: AtomicUsize,
}

impl Lane {
    fn new(slots: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            queued: AtomicUsize::new(0),
        }
    }
}

/// A slot for one heavy job; dropping it (on any path) frees the slot.
#[derive(Debug)]
pub struct HeavyPermit {
    _slot: OwnedSemaphorePermit,
    _session: Place<Option<SessionKey>>,
}

/// A place in the queue, given back on drop (also when the waiting request is dropped).
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HeavyJobs {
    /// Admission with `limits`.
    pub fn new(limits: HeavyLimits) -> Self {
        let limits = HeavyLimits {
            slots: limits.slots.max(1),
            ..limits
        };
        Self {
            inner: Arc::new(Inner {
                limits,
                lanes: [Lane::new(limits.slots), Lane::new(limits.slots)],
                by_session: Places::new(limits.per_session(), usize::MAX),
            }),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> HeavyLimits {
        self.inner.limits
    }

    /// A slot for `work` for `session` (`None`: a request without one), or `None` when
    /// the work is small enough to run at once. What it costs is worked out in one
    /// place, [`Work::cost`].
    pub async fn admit(
        &self,
        session: Option<SessionKey>,
        work: Work<'_>,
    ) -> Result<Option<HeavyPermit>, StayputError> {
        self.admit_rows(session, work.cost()).await
    }

    /// [`HeavyJobs::admit`] for a job of `rows` rows.
    async fn admit_rows(
        &self,
        session: Option<SessionKey>,
        rows: u64,
    ) -> Result<Option<HeavyPermit>, StayputError> {
        if rows < HEAVY_ROWS {
            return Ok(None);
        }
        let session = self.session_slot(session)?;
        let lane = &self.inner.lanes[usize::from(rows >= LARGE_ROWS)];
        let slots = Arc::clone(&lane.slots);
        if let Ok(slot) = Arc::clone(&slots).try_acquire_owned() {
            return Ok(Some(HeavyPermit {
                _slot: slot,
                _session: session,
            }));
        }
        let busy = || StayputError::Busy {
            retry_after_s: self.inner.limits.wait.as_secs().clamp(1, 5),
        };
        if lane.queued.fetch_add(1, Ordering::AcqRel) >= self.inner.limits.queue {
            lane.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        let _place = QueuePlace(&lane.queued);
        match tokio::time::timeout(self.inner.limits.wait, slots.acquire_owned()).await {
            Ok(Ok(slot)) => Ok(Some(HeavyPermit {
                _slot: slot,
                _session: session,
            })),
            _ => Err(busy()),
        }
    }

    fn session_slot(&self, session: Option<SessionKey>) -> Result<Place<Option<SessionKey>>, StayputError> {
        self.inner.by_session.enter(session).map_err(|_| match session {
            Some(_) => StayputError::SessionBusy(self.inner.by_session.per_key() as u64),
            // Requests without a session share one session's share.
            None => StayputError::Busy {
                retry_after_s: self.inner.limits.wait.as_secs().clamp(1, 5),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(slots: usize, queue: usize) -> HeavyJobs {
        HeavyJobs::new(HeavyLimits {
            slots,
            queue,
            wait: Duration::from_secs(10),
        })
    }

    #[tokio::test]
    async fn small_jobs_never_take_a_slot() {
        let jobs = jobs(1, 0);
        let _big = jobs
            .admit_rows(None, HEAVY_ROWS)
            .await
            .expect("admitted")
            .expect("a slot");
        for _ in 0..100 {
            assert!(jobs
                .admit_rows(None, HEAVY_ROWS - 1)
                .await
                .expect("admitted")
                .is_none());
        }
    }

    /// A request of a session of its own.
    fn anyone() -> Option<SessionKey> {
        Some(SessionKey::random())
    }

    #[tokio::test(start_paused = true)]
    async fn beyond_the_slots_and_the_queue_requests_are_shed_at_once() {
        let jobs = jobs(2, 1);
        let a = jobs.admit_rows(anyone(), HEAVY_ROWS).await.expect("slot 1");
        let _b = jobs.admit_rows(anyone(), HEAVY_ROWS).await.expect("slot 2");
        // The third waits in the queue; the fourth finds it full.
        let waiting = tokio::spawn({
            let jobs = jobs.clone();
            async move { jobs.admit_rows(anyone(), HEAVY_ROWS).await.map(|p| p.is_some()) }
        });
        tokio::task::yield_now().await;
        let shed = jobs
            .admit_rows(anyone(), HEAVY_ROWS)
            .await
            .expect_err("queue full");
        assert_eq!(shed, StayputError::Busy { retry_after_s: 5 });
        assert_eq!(shed.status(), 503);
        drop(a);
        assert_eq!(
            waiting.await.expect("task"),
            Ok(true),
            "the queued job got the freed slot"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_that_runs_out_is_busy() {
        let jobs = jobs(1, 4);
        let _held = jobs.admit_rows(anyone(), HEAVY_ROWS).await.expect("slot");
        let err = jobs
            .admit_rows(anyone(), HEAVY_ROWS)
            .await
            .expect_err("timed out");
        assert!(matches!(err, StayputError::Busy { .. }));
        assert_eq!(
            jobs.inner.lanes[0].queued.load(Ordering::Acquire),
            0,
            "the place was given back"
        );
    }

    /// Issue 23: a 1e6 job (1 % of a 1e8 fill) is never shed or queued behind 1e8 jobs.
    #[tokio::test(start_paused = true)]
    async fn a_small_heavy_job_does_not_queue_behind_large_ones() {
        let jobs = jobs(2, 2);
        let large = 100 * HEAVY_ROWS;
        let _running = [
            jobs.admit_rows(anyone(), large).await.expect("1"),
            jobs.admit_rows(anyone(), large).await.expect("2"),
        ];
        let queued: Vec<_> = (0..2)
            .map(|_| {
                let jobs = jobs.clone();
                tokio::spawn(async move { jobs.admit_rows(anyone(), large).await.map(|p| p.is_some()) })
            })
            .collect();
        tokio::task::yield_now().await;
        let shed = jobs
            .admit_rows(anyone(), large)
            .await
            .expect_err("the large lane is full");
        assert!(matches!(shed, StayputError::Busy { .. }));
        // Both lanes' slots are taken by large jobs and their queue is full: a 1e6 job
        // still gets a slot at once, and so does a second one of another session.
        let small = jobs
            .admit_rows(anyone(), HEAVY_ROWS)
            .await
            .expect("admitted at once");
        assert!(small.is_some(), "it holds a slot of its own lane");
        assert!(jobs
            .admit_rows(anyone(), LARGE_ROWS - 1)
            .await
            .expect("second")
            .is_some());
        drop(queued);
    }

    #[tokio::test]
    async fn one_session_cannot_take_every_slot() {
        let jobs = jobs(4, 0);
        let (me, other) = (SessionKey::random(), SessionKey::random());
        let first = jobs.admit_rows(Some(me), HEAVY_ROWS).await.expect("1");
        let _second = jobs.admit_rows(Some(me), HEAVY_ROWS).await.expect("2");
        let err = jobs
            .admit_rows(Some(me), HEAVY_ROWS)
            .await
            .expect_err("half the slots at most");
        assert_eq!((err.status(), err), (429, StayputError::SessionBusy(2)));
        assert!(
            jobs.admit_rows(Some(other), HEAVY_ROWS).await.is_ok(),
            "others still get in"
        );
        drop(first);
        assert!(
            jobs.admit_rows(Some(me), HEAVY_ROWS).await.is_ok(),
            "a finished job frees its place"
        );
    }

    #[tokio::test]
    async fn requests_without_a_session_share_one_sessions_slots() {
        let jobs = jobs(4, 4);
        let _a = jobs.admit_rows(None, HEAVY_ROWS).await.expect("1");
        let _b = jobs.admit_rows(None, HEAVY_ROWS).await.expect("2");
        let err = jobs
            .admit_rows(None, HEAVY_ROWS)
            .await
            .expect_err("cookie-less requests hold half the slots at most");
        assert_eq!(err.status(), 503, "{err}");
        assert!(
            jobs.admit_rows(anyone(), HEAVY_ROWS).await.is_ok(),
            "sessions still get in"
        );
    }
}
