//! Reading a request body held to account: no more than a limit, and never stalled. A
//! client that stops sending (a slow drip, a cut cable) is cut off after `idle` without
//! a byte, so an upload cannot hold its slot and its reserved memory until the request
//! deadline.

use std::time::Duration;

use axum::body::{Body, Bytes};
use futures::StreamExt;

use crate::contract::StayputError;

/// How a body failed to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// More than the limit arrived.
    TooLarge,
    /// Nothing arrived for the idle timeout.
    Stalled,
    /// The connection broke (or the client sent garbage framing).
    Broken,
}

impl BodyFault {
    /// The error a user sees for this fault while uploading `what`.
    pub fn into_error(self, what: &str, idle: Duration) -> StayputError {
        match self {
            Self::TooLarge => StayputError::BodyTooLarge(what.to_owned()),
            Self::Stalled => StayputError::BodyStalled(idle.as_secs().max(1)),
            Self::Broken => StayputError::BadRequest(format!("{what} was cut off")),
        }
    }
}

/// Feeds `body` chunk by chunk to `sink`, failing once more than `limit` bytes came or
/// no chunk came for `idle`. Returns the bytes read.
pub async fn for_each_chunk<E>(
    body: Body,
    limit: u64,
    idle: Duration,
    mut sink: impl FnMut(Bytes) -> Result<(), E>,
) -> Result<u64, Result<BodyFault, E>> {
    let mut stream = body.into_data_stream();
    let mut read = 0u64;
    loop {
        let chunk = match tokio::time::timeout(idle, stream.next()).await {
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
