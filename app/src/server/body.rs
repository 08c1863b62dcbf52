//! Reading a request body held to account: no more than a limit, never stalled, never
//! a drip. A client that stops sending (a cut cable) is cut off after `idle` without a
//! byte; one that sends a byte every few seconds is cut off once its average falls
//! under [`MIN_RATE`] (after a first `idle` of grace). So an upload, which the request
//! deadline does not cover, cannot hold its place, slot and reserved memory forever.

use std::time::Duration;

use axum::body::{Body, Bytes};
use futures::StreamExt;

use crate::contract::StayputError;

/// Slowest average a body may arrive at, in bytes a second, once its first `idle` is
/// over: 1 KiB/s, far below any real link (a 2 GB file at it would take 24 days), far
/// above a drip that holds a place.
pub const MIN_RATE: u64 = 1024;

/// How a body failed to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// More than the limit arrived.
    TooLarge,
    /// Nothing arrived for the idle timeout.
    Stalled,
    /// It arrived slower than [`MIN_RATE`] on average.
    TooSlow,
    /// The connection broke (or the client sent garbage framing).
    Broken,
}

impl BodyFault {
    /// The error a user sees for this fault while uploading `what`.
    pub fn into_error(self, what: &str, idle: Duration) -> StayputError {
        match self {
            Self::TooLarge => StayputError::BodyTooLarge(what.to_owned()),
            Self::Stalled => StayputError::BodyStalled(idle.as_secs().max(1)),
            Self::TooSlow => StayputError::BodyTooSlow(MIN_RATE),
            Self::Broken => StayputError::BadRequest(format!("{what} was cut off")),
        }
    }
}

/// Feeds `body` chunk by chunk to `sink`, failing once more than `limit` bytes came, no
/// chunk came for `idle`, or the bytes fell behind [`MIN_RATE`] after the first `idle`.
/// Returns the bytes read.
pub async fn for_each_chunk<E>(
    body: Body,
    limit: u64,
    idle: Duration,
    mut sink: impl FnMut(Bytes) -> Result<(), E>,
) -> Result<u64, Result<BodyFault, E>> {
    let mut stream = body.into_data_stream();
    let mut read = 0u64;
    let started = tokio::time::Instant::now();
    loop {
        // When the bytes so far fall behind the slowest rate allowed.
        let behind = started + idle + Duration::from_secs_f64(read as f64 / MIN_RATE as f64);
        let now = tokio::time::Instant::now();
        // Too slow only once something came and the rate's deadline is the nearer one;
        // a body that never starts has stalled.
        let slow = read > 0 && behind < now + idle;
        let wait = if slow {
            behind.saturating_duration_since(now)
        } else {
            idle
        };
        let chunk = match tokio::time::timeout(wait, stream.next()).await {
            Err(_) if slow => return Err(Ok(BodyFault::TooSlow)),
            Err(_) => return Err(Ok(BodyFault::Stalled)),
            Ok(None) => return Ok(read),
            Ok(Some(Err(_))) => return Err(Ok(BodyFault::Broken)),
            Ok(Some(Ok(chunk))) => chunk,
        };
        read = read.saturating_add(chunk.len() as u64);
        if read > limit {
            return Err(Ok(BodyFault::TooLarge));
        }
        sink(chunk).map_err(Err)?;
    }
}

/// The whole of `body` in memory (at most `limit` bytes; `expected` sizes the buffer
/// when the client declared a length within the limit).
pub async fn read_all(
    body: Body,
    limit: u64,
    expected: Option<u64>,
    idle: Duration,
) -> Result<Bytes, BodyFault> {
    let capacity = expected.filter(|&n| n <= limit).unwrap_or(0);
    let mut buffer = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    for_each_chunk(body, limit, idle, |chunk| {
        buffer.extend_from_slice(&chunk);
        Ok::<(), std::convert::Infallible>(())
    })
    .await
    .map_err(|fault| match fault {
        Ok(fault) => fault,
        Err(never) => match never {},
    })?;
    Ok(Bytes::from(buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(chunks: Vec<&'static [u8]>) -> Body {
        Body::from_stream(futures::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
        ))
    }

    #[tokio::test]
    async fn a_body_within_the_limit_arrives_whole() {
        let bytes = read_all(body_of(vec![b"ab", b"cd"]), 4, Some(4), Duration::from_secs(1))
            .await
            .expect("within the limit");
        assert_eq!(&bytes[..], b"abcd");
    }

    #[tokio::test]
    async fn one_byte_over_the_limit_is_refused() {
        let fault = read_all(body_of(vec![b"ab", b"cde"]), 4, None, Duration::from_secs(1))
            .await
            .expect_err("over the limit");
        assert_eq!(fault, BodyFault::TooLarge);
    }

    /// Issue 23: 32 senders at a byte every 9 s held every upload place forever (each
    /// byte reset the idle timeout).
    #[tokio::test(start_paused = true)]
    async fn a_drip_is_cut_off_once_it_falls_behind_the_slowest_rate() {
        let drip = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(9)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), ()))
        });
        let started = tokio::time::Instant::now();
        let fault = read_all(Body::from_stream(drip), 1 << 20, None, Duration::from_secs(10))
            .await
            .expect_err("too slow");
        assert_eq!(fault, BodyFault::TooSlow);
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "cut soon after the grace: {:?}",
            started.elapsed()
        );
        // A body at twice the slowest rate arrives whole, however long it takes.
        let steady = futures::stream::iter(0..40).then(|_| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok::<_, std::io::Error>(Bytes::from(vec![0u8; MIN_RATE as usize]))
        });
        let bytes = read_all(Body::from_stream(steady), 1 << 20, None, Duration::from_secs(10))
            .await
            .expect("steady enough");
        assert_eq!(bytes.len(), 40 * MIN_RATE as usize);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_sending_is_cut_off() {
        let first = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"ab"))]);
        let body = Body::from_stream(first.chain(futures::stream::pending()));
        let fault = read_all(body, 1024, None, Duration::from_secs(10))
            .await
            .expect_err("stalled");
        assert_eq!(fault, BodyFault::Stalled);
    }
}
