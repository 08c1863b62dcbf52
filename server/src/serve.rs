//! Serving the router on a listener: HTTP/1.1 connections with a deadline for the
//! request head, a deadline for every write to make progress (a peer that stops reading
//! is cut off, and what was held for it is freed), `TCP_NODELAY`, and a graceful
//! shutdown in which in-flight requests finish.
//!
//! `axum::serve` gives hyper no timer, so a client may take forever to send its headers
//! (one slow-loris connection per file descriptor); hyper's own
//! `header_read_timeout` needs one. This is the same accept loop with a timer, and with
//! caps on open connections, in all and per client address: a connection beyond them is
//! closed at once, so one address cannot take every file descriptor, and running out of
//! them is a refused connection, not a crash.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// How connections are held to account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// `STAYPUT_HEADER_TIMEOUT`: a client must send a request's head within this.
    pub header_timeout: Duration,
    /// `STAYPUT_SHUTDOWN_GRACE`: on SIGTERM, in-flight requests get this long to finish.
    pub shutdown_grace: Duration,
    /// `STAYPUT_WRITE_TIMEOUT`: a write that makes no progress for this long (the peer
    /// stopped reading) closes the connection, sockets included.
    pub write_timeout: Duration,
    /// `STAYPUT_MAX_CONNECTIONS`: connections open at once, all clients.
    pub max_connections: usize,
    /// `STAYPUT_MAX_CONNECTIONS_PER_ADDRESS`: connections open at once from one client
    /// address (0: no cap; behind a proxy every client has the proxy's address).
    pub max_per_address: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_per_address: 512,
        }
    }
}

/// The address a connection counts under: an IPv6 peer by its /64 (one host holds a
/// whole /64), an IPv4 peer by its address.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Connections open now, in all and per client address.
#[derive(Debug, Default)]
struct OpenConnections {
    counts: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open connection's place, given back when dropped.
struct Held {
    open: Arc<OpenConnections>,
    address: IpAddr,
}

impl OpenConnections {
    /// A place for a connection from `address`, or `None` beyond a cap.
    fn admit(self: &Arc<Self>, address: IpAddr, limits: &ServeLimits) -> Option<Held> {
        let mut counts = stayput_cache::sync::lock(&self.counts);
        let (all, by_address) = &mut *counts;
        let mine = by_address.entry(address).or_default();
        if *all >= limits.max_connections || (limits.max_per_address > 0 && *mine >= limits.max_per_address) {
            if *mine == 0 {
                by_address.remove(&address);
            }
            return None;
        }
        *all += 1;
        *mine += 1;
        Some(Held {
            open: Arc::clone(self),
            address,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut counts = stayput_cache::sync::lock(&self.open.counts);
        let (all, by_address) = &mut *counts;
        *all = all.saturating_sub(1);
        if let Some(mine) = by_address.get_mut(&self.address) {
            *mine -= 1;
            if *mine == 0 {
                by_address.remove(&self.address);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets
/// in-flight requests finish (at most `limits.shutdown_grace`) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection holds a receiver; `closed()` resolves when the last one is gone.
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    let open_count = Arc::new(OpenConnections::default());
    loop {
        let (stream, held) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match open_count.admit(client_of(peer.ip()), &limits) {
                    Some(held) => (stream, held),
                    None => {
                        tracing::debug!(%peer, "connection refused: too many open");
                        drop(stream);
                        continue;
                    }
                },
                Err(err) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
        let service = TowerToHyperService::new(
            router
                .clone()
                .map_request(|request: Request<Incoming>| request.map(Body::new)),
        );
        let (mut stop, open) = (stop_rx.clone(), open_rx.clone());
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let connection = builder
                .serve_connection(
                    TokioIo::new(WriteDeadline::new(stream, limits.write_timeout)),
                    service,
                )
                .with_upgrades();
            let mut connection = pin!(connection);
            let mut stopping = false;
            loop {
                tokio::select! {
                    served = connection.as_mut() => {
                        if let Err(err) = served {
                            tracing::debug!(%err, "connection ended");
                        }
                        break;
                    }
                    changed = stop.changed(), if !stopping => {
                        stopping = true;
                        if changed.is_ok() {
                            // Finish the request in flight, then close.
                            connection.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
            drop(open);
            drop(held);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    if tokio::time::timeout(limits.shutdown_grace, open_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_s = limits.shutdown_grace.as_secs(),
            "requests still running after the shutdown grace; stopping anyway"
        );
    }
}

/// A connection whose writes must make progress: when a write (or flush) stays pending
/// for `limit`, it fails, and hyper closes the connection. Without it a client that
/// never reads its response holds the response's memory (and a socket's task) for ever.
struct WriteDeadline<IO> {
    io: IO,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<IO> WriteDeadline<IO> {
    fn new(io: IO, limit: Duration) -> Self {
        Self {
            io,
            limit,
            stalled: None,
        }
    }

    /// After a pending write: pending until the deadline, then an error.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<T>(&mut self, ready: Poll<io::Result<T>>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match ready {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.pending(cx),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for WriteDeadline<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let ready = Pin::new(&mut self.io).poll_write(cx, buf);
        self.progress(ready, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let ready = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.progress(ready, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let ready = Pin::new(&mut self.io).poll_flush(cx);
        self.progress(ready, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
