//! A frame's chunks read from Redis straight into the frame's own buffer.
//!
//! The Redis client (fred) hands each reply over as a buffer of its own: for an 80 MB
//! frame that is 80 MB of fresh pages filled, then copied again into the frame's
//! buffers by the IPC decoder (on this VM, touching a fresh page costs about what copying
//! it does). No maintained Redis client for Rust reads a reply into a buffer the caller
//! gives (fred 10.1 hands over a buffer of its own, checked in its source; redis-rs parses
//! every reply into a `Value` that owns its bytes, from its documentation). So the chunks'
//! `GET`s go out on a plain connection of its own, and each reply's bytes are read from
//! the socket into their place in its file's buffer, which the frame then keeps (see
//! `in_place`). Everything else (the manifest, writes, deletes) stays on fred's pool.
//!
//! The `GET`s go out one ahead, not all at once: the next is sent as each reply starts to
//! arrive. Redis copies a whole reply into its output buffers before sending any of it;
//! asked for one small chunk at a time, it copies the next while the socket carries this
//! one. All at once, it copied every chunk first (80 MB: ~40 ms before the first byte)
//! and only then sent them; one ahead, an 80 MB frame reads in under half the time
//! (`manifest::CHUNK_BYTES` has the numbers).
//!
//! This speaks only what it needs of RESP: `AUTH` and `SELECT` when the URL asks for
//! them, then `GET`, whose reply is a bulk string (`$<len>\r\n<bytes>\r\n`), a nil
//! (`$-1\r\n`) or an error (`-<text>\r\n`). A reply of another length than the chunk's
//! means the frame was replaced meanwhile: not in Redis, as a missing chunk is.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fred::types::config::{Config, ServerConfig};

use crate::sync::lock;

/// Longest reply line read (a length or an error): far above any Redis sends for these.
const MAX_LINE: u64 = 1_024;

/// Connections kept for the next read, logged in (a new connection's socket buffers
/// start small: on this VM a read of 8 MB took ~3 ms longer over one).
const MAX_IDLE: usize = 2;

/// A kept connection idle longer than this is closed rather than used: a balancer or NAT
/// on the way may have forgotten it without a word.
const IDLE_FOR: Duration = Duration::from_secs(10);

/// Where Redis is and how to log in, as the URL said (fred parsed it), and the
/// connections kept between reads. Clones share them.
#[derive(Clone)]
pub(crate) struct Endpoint {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
    database: Option<u8>,
    idle: Arc<Mutex<Vec<(TcpStream, Instant)>>>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// The one server of a `redis://` URL; `None` for a cluster or sentinel URL.
    pub(crate) fn of(config: &Config) -> Option<Self> {
        let ServerConfig::Centralized { server } = &config.server else {
            return None;
        };
        Some(Self {
            host: server.host.to_string(),
            port: server.port,
            username: config.username.clone(),
            password: config.password.clone(),
            database: config.database,
            idle: Arc::default(),
        })
    }

    /// A kept connection used within [`IDLE_FOR`], if any (older ones are closed).
    fn idle(&self) -> Option<TcpStream> {
        let mut idle = lock(&self.idle);
        idle.retain(|(_, since)| since.elapsed() < IDLE_FOR);
        idle.pop().map(|(stream, _)| stream)
    }

    /// Keeps `stream`, all its replies read, for the next read.
    fn keep(&self, stream: TcpStream) {
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE {
            idle.push((stream, Instant::now()));
        }
    }
}

/// Why a read did not finish.
#[derive(Debug)]
pub(crate) enum RawError {
    Io(std::io::Error),
    /// Redis answered with an error.
    Refused(String),
    /// Redis answered something a `GET` does not.
    Protocol(&'static str),
}

impl fmt::Display for RawError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(err) => write!(f, "{err}"),
            Self::Refused(text) => write!(f, "Redis refused: {text}"),
            Self::Protocol(what) => write!(f, "unexpected reply: {what}"),
        }
    }
}

impl From<std::io::Error> for RawError {
    fn from(err: std::io::Error) -> Self {
        Self::Io(err)
    }
}

/// Reads each key's value into its piece, over one connection, each `GET` sent as the
/// reply before it starts to arrive (see the module's docs). `Ok(false)` when a key is
/// missing or its value is not the length of its piece. Blocking (run it off the async
/// runtime): plain blocking reads of large values cost less than the runtime's wake-ups
/// on this 2-core VM. Connecting, and every read and write, end within twice
/// `per_command` of the start (fred bounds each command by it; a frame is at most
/// `frame_max`, 64 MiB by default, a tenth of a second's reading here), so a Redis that
/// stops answering costs a read no more than that. Looking up the host's name is not
/// bounded here: the system's resolver bounds it (an address in the URL needs none).
pub(crate) fn read_into(
    endpoint: &Endpoint,
    mut pieces: Vec<(String, &mut [u8])>,
    per_command: Duration,
) -> Result<bool, RawError> {
    let deadline = Instant::now() + per_command.saturating_mul(2);
    let requests: Vec<Vec<u8>> = pieces
        .iter()
        .map(|(key, _)| {
            let mut request = Vec::with_capacity(key.len() + 24);
            command(&mut request, &[b"GET", key.as_bytes()]);
            request
        })
        .collect();
    // A kept connection first. One that Redis closed meanwhile (a restart, a failover)
    // fails before its first reply, and the read is tried once more on a new one; it
    // waits for that reply at most half a command's time, so the new one has the rest.
    if let Some(kept) = endpoint.idle() {
        match attempt(
            endpoint,
            Some(kept),
            &requests,
            &mut pieces,
            per_command,
            deadline,
        ) {
            Err(Failure::Stale) => {}
            Err(Failure::Raw(err)) => return Err(err),
            Ok(whole) => return Ok(whole),
        }
    }
    match attempt(endpoint, None, &requests, &mut pieces, per_command, deadline) {
        Err(Failure::Stale) => Err(RawError::Protocol("a new connection closed")),
        Err(Failure::Raw(err)) => Err(err),
        Ok(whole) => Ok(whole),
    }
}

/// Why one attempt at a read failed.
enum Failure {
    /// A kept connection failed before its first reply: try a new one.
    Stale,
    Raw(RawError),
}

/// One read of every piece over `kept`, or a new connection: `requests[i]` asks for
/// `pieces[i]`.
fn attempt(
    endpoint: &Endpoint,
    kept: Option<TcpStream>,
    requests: &[Vec<u8>],
    pieces: &mut [(String, &mut [u8])],
    per_command: Duration,
    deadline: Instant,
) -> Result<bool, Failure> {
    let reused = kept.is_some();
    // Only a kept connection that fails (closed, reset, silent) is stale; an answer
    // that is not a value is Redis's, and a new connection would get the same.
    let stale = |err: RawError| match err {
        RawError::Io(_) if reused => Failure::Stale,
        err => Failure::Raw(err),
    };
    let (mut stream, first_by) = match kept {
        Some(stream) => (stream, deadline.min(Instant::now() + per_command / 2)),
        None => (
            connect(endpoint, per_command, deadline).map_err(Failure::Raw)?,
            deadline,
        ),
    };
    if let Some(first) = requests.first() {
        stream.write_all(first).map_err(|err| stale(err.into()))?;
    }
    // Small replies through a buffer; a value larger than it is read past it, straight
    // into its piece.
    let deadlined = Deadlined {
        stream,
        deadline: first_by,
    };
    let mut reader = BufReader::with_capacity(64 << 10, deadlined);
    let mut line = Vec::with_capacity(64);
    for (index, (_, piece)) in pieces.iter_mut().enumerate() {
        let reply = match read_line(&mut reader, &mut line) {
            Err(err) if index == 0 => return Err(stale(err)),
            other => other.map_err(Failure::Raw)?,
        };
        reader.get_mut().deadline = deadline;
        match reply {
            Reply::Bulk(len) if len == piece.len() as u64 => {
                // The next chunk asked for now, while this one crosses (see the module's
                // docs); a write, too, ends by the deadline.
                if let Some(next) = requests.get(index + 1) {
                    reader
                        .get_mut()
                        .write_by_deadline(next)
                        .map_err(|err| Failure::Raw(err.into()))?;
                }
                let mut end = [0u8; 2];
                reader
                    .read_exact(piece)
                    .and_then(|()| reader.read_exact(&mut end))
                    .map_err(|err| Failure::Raw(err.into()))?;
                if &end != b"\r\n" {
                    return Err(Failure::Raw(RawError::Protocol("a value not ended by CRLF")));
                }
            }
            // Missing, or another version's: the frame is not in Redis (whole).
            Reply::Bulk(_) | Reply::Nil => return Ok(false),
            Reply::Simple => return Err(Failure::Raw(RawError::Protocol("a status where a value was due"))),
        }
    }
    if reader.buffer().is_empty() {
        endpoint.keep(reader.into_inner().stream);
    }
    Ok(true)
}

/// Checks at start-up that frames can be read: a connection logs in and answers `PING`
/// (and is kept for the first read).
pub(crate) fn ping(endpoint: &Endpoint, timeout: Duration) -> Result<(), RawError> {
    let deadline = Instant::now() + timeout;
    let mut stream = connect(endpoint, timeout, deadline)?;
    let mut request = Vec::new();
    command(&mut request, &[b"PING"]);
    stream.write_all(&request)?;
    let mut reader = BufReader::with_capacity(256, Deadlined { stream, deadline });
    match read_line(&mut reader, &mut Vec::new())? {
        Reply::Simple if reader.buffer().is_empty() => {
            endpoint.keep(reader.into_inner().stream);
            Ok(())
        }
        _ => Err(RawError::Protocol("PING")),
    }
}

/// A new connection to the first of the host's addresses that takes one, logged in and
/// on the URL's database.
fn connect(endpoint: &Endpoint, per_command: Duration, deadline: Instant) -> Result<TcpStream, RawError> {
    // As fred does: "host:port" (an IPv6 literal keeps its brackets), every address tried.
    let mut last = None;
    let mut connected = None;
    for addr in format!("{}:{}", endpoint.host, endpoint.port).to_socket_addrs()? {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .min(per_command);
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => {
                connected = Some(stream);
                break;
            }
            Err(err) => last = Some(err),
        }
    }
    let mut stream = match (connected, last) {
        (Some(stream), _) => stream,
        (None, Some(err)) => return Err(err.into()),
        (None, None) => return Err(RawError::Protocol("no address for the host")),
    };
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(per_command))?;
    let mut login = Vec::new();
    let mut acks = 0;
    if let Some(password) = &endpoint.password {
        match &endpoint.username {
            Some(user) => command(&mut login, &[b"AUTH", user.as_bytes(), password.as_bytes()]),
            None => command(&mut login, &[b"AUTH", password.as_bytes()]),
        }
        acks += 1;
    }
    if let Some(db) = endpoint.database.filter(|&db| db != 0) {
        command(&mut login, &[b"SELECT", db.to_string().as_bytes()]);
        acks += 1;
    }
    if acks == 0 {
        return Ok(stream);
    }
    stream.write_all(&login)?;
    let mut reader = BufReader::with_capacity(256, Deadlined { stream, deadline });
    let mut line = Vec::with_capacity(64);
    for _ in 0..acks {
        if read_line(&mut reader, &mut line)? != Reply::Simple {
            return Err(RawError::Protocol("AUTH or SELECT"));
        }
    }
    if !reader.buffer().is_empty() {
        return Err(RawError::Protocol("more than AUTH or SELECT answered"));
    }
    Ok(reader.into_inner().stream)
}

/// A connection whose every read must end by `deadline`: a Redis that sends a value a
/// byte at a time cannot hold the read longer than a stalled one.
struct Deadlined {
    stream: TcpStream,
    deadline: Instant,
}

impl Deadlined {
    /// Writes `bytes` whole, by the deadline.
    fn write_by_deadline(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write_all(bytes)
    }
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

/// Appends one command as a RESP array of bulk strings.
fn command(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
    for part in parts {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
}

/// The start of a reply.
#[derive(Debug, PartialEq)]
enum Reply {
    /// `+…`: a status (AUTH's and SELECT's `OK`).
    Simple,
    /// `$<len>`: this many bytes follow.
    Bulk(u64),
    /// `$-1`: no such key.
    Nil,
}

fn read_line(reader: &mut BufReader<Deadlined>, line: &mut Vec<u8>) -> Result<Reply, RawError> {
    line.clear();
    if (&mut *reader).take(MAX_LINE).read_until(b'\n', line)? == 0 {
        // Closed by the other end.
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    }
    parse_line(line)
}

fn parse_line(line: &[u8]) -> Result<Reply, RawError> {
    let Some(text) = line.strip_suffix(b"\r\n") else {
        return Err(RawError::Protocol("a reply line cut short"));
    };
    match text.split_first() {
        Some((b'+', _)) => Ok(Reply::Simple),
        Some((b'-', message)) => Err(RawError::Refused(String::from_utf8_lossy(message).into_owned())),
        Some((b'$', b"-1")) => Ok(Reply::Nil),
        Some((b'$', len)) => std::str::from_utf8(len)
            .ok()
            .and_then(|len| len.parse::<u64>().ok())
            .map(Reply::Bulk)
            .ok_or(RawError::Protocol("a length that is not a number")),
        _ => Err(RawError::Protocol("a reply that is not a status, value or error")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_resp_arrays() {
        let mut out = Vec::new();
        command(&mut out, &[b"GET", b"k:1"]);
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$3\r\nk:1\r\n");
    }

    #[test]
    fn reply_lines() {
        assert_eq!(parse_line(b"+OK\r\n").ok(), Some(Reply::Simple));
        assert_eq!(parse_line(b"$8388608\r\n").ok(), Some(Reply::Bulk(8_388_608)));
        assert_eq!(parse_line(b"$-1\r\n").ok(), Some(Reply::Nil));
        assert!(
            matches!(parse_line(b"-NOAUTH Authentication required.\r\n"), Err(RawError::Refused(text)) if text.starts_with("NOAUTH"))
        );
        for bad in [&b"$12"[..], b"$-2\r\n", b"$x\r\n", b":1\r\n", b"\r\n", b""] {
            assert!(parse_line(bad).is_err(), "{bad:?}");
        }
    }

    /// A server on `addr` (port 0: any) that answers one connection's request with
    /// `reply`; `None` when it cannot listen there.
    fn answering(addr: &str, reply: &[u8]) -> Option<(u16, std::thread::JoinHandle<()>)> {
        let listener = std::net::TcpListener::bind(addr).ok()?;
        let port = listener.local_addr().ok()?.port();
        let reply = reply.to_vec();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut request = [0u8; 64];
            let _ = stream.read(&mut request);
            stream.write_all(&reply).expect("reply");
        });
        Some((port, server))
    }

    fn local(port: u16) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".to_owned(),
            port,
            username: None,
            password: None,
            database: None,
            idle: Arc::default(),
        }
    }

    /// The chunks are asked for one ahead: the second `GET` arrives once the first reply
    /// has started, before its value (not all at once, nor after each whole reply), and
    /// the third once the second has; each value lands in its own piece.
    #[test]
    fn gets_go_out_one_ahead_as_each_reply_starts() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            stream
                .set_read_timeout(Some(Duration::from_millis(300)))
                .expect("timeout");
            let mut seen = Vec::new();
            let mut buf = [0u8; 256];
            // The GETs that had arrived before each reply began, and once its first line
            // was sent, before its value.
            let (mut before_reply, mut before_value) = (Vec::new(), Vec::new());
            let mut gets = |stream: &mut TcpStream, seen: &mut Vec<u8>| {
                // Whatever the client sends unprompted, within 300 ms.
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                }
                String::from_utf8_lossy(seen).matches("GET").count()
            };
            for value in [&b"aaaa"[..], b"bb", b"c"] {
                before_reply.push(gets(&mut stream, &mut seen));
                stream
                    .write_all(format!("${}\r\n", value.len()).as_bytes())
                    .expect("reply");
                before_value.push(gets(&mut stream, &mut seen));
                stream.write_all(value).expect("value");
                stream.write_all(b"\r\n").expect("end");
            }
            (before_reply, before_value)
        });
        let endpoint = local(port);
        let (mut a, mut b, mut c) = ([0u8; 4], [0u8; 2], [0u8; 1]);
        let read = read_into(
            &endpoint,
            vec![
                ("k:0".to_owned(), &mut a[..]),
                ("k:1".to_owned(), &mut b[..]),
                ("k:2".to_owned(), &mut c[..]),
            ],
            Duration::from_secs(5),
        );
        assert!(matches!(read, Ok(true)), "{read:?}");
        assert_eq!((&a, &b, &c), (b"aaaa", b"bb", b"c"));
        let (before_reply, before_value) = server.join().expect("server");
        assert_eq!(before_reply, [1, 2, 3], "GETs seen before each reply began");
        assert_eq!(
            before_value,
            [2, 3, 3],
            "the next GET came as the reply began, before its value"
        );
    }

    /// A server that takes the connection and never answers (a Redis stopped with
    /// SIGSTOP, say) costs a read twice the command timeout, then an error.
    #[test]
    fn a_server_that_never_answers_costs_at_most_twice_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let held = std::thread::spawn(move || listener.accept().map(|(stream, _)| stream));
        let endpoint = local(port);
        let mut whole = [0u8; 100];
        let started = Instant::now();
        let read = read_into(
            &endpoint,
            vec![("k:0".to_owned(), &mut whole[..])],
            Duration::from_millis(200),
        );
        let took = started.elapsed();
        assert!(matches!(read, Err(RawError::Io(_))), "{read:?}");
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_secs(2),
            "{took:?}"
        );
        drop(held.join());
    }

    /// The host is looked up as fred looks it up: an IPv6 literal keeps its brackets,
    /// and every address of a name is tried until one takes the connection.
    #[test]
    fn every_address_of_the_host_is_tried() {
        let (port, server) = answering("127.0.0.1:0", b"+PONG\r\n").expect("a loopback port");
        // "localhost" may list ::1 first, where nothing listens.
        let mut endpoint = local(port);
        endpoint.host = "localhost".to_owned();
        ping(&endpoint, Duration::from_secs(2)).expect("one of localhost's addresses answers");
        server.join().expect("server");
        if let Some((port, server)) = answering("[::1]:0", b"+PONG\r\n") {
            let mut endpoint = local(port);
            endpoint.host = "[::1]".to_owned();
            ping(&endpoint, Duration::from_secs(2)).expect("an IPv6 literal");
            server.join().expect("server");
        }
    }

    /// A reply shorter than its piece (another version's chunk) or a nil reads as not
    /// whole; an error reply is an error.
    #[test]
    fn replies_other_than_the_whole_chunk() {
        for (reply, expect) in [
            (&b"$3\r\nabc\r\n"[..], Some(false)),
            (b"$-1\r\n", Some(false)),
            (b"$4\r\nabcd\r\n", Some(true)),
            (b"$4\r\nabcdXX", None),
            (b"-WRONGTYPE Operation against a key\r\n", None),
        ] {
            let (port, server) = answering("127.0.0.1:0", reply).expect("a loopback port");
            let endpoint = local(port);
            let mut whole = [0u8; 4];
            let read = read_into(
                &endpoint,
                vec![("k:0".to_owned(), &mut whole[..])],
                Duration::from_secs(2),
            );
            assert_eq!(read.as_ref().ok().copied(), expect, "{read:?}");
            if expect == Some(true) {
                assert_eq!(&whole, b"abcd");
            }
            server.join().expect("server");
        }
    }

    /// A read leaves its connection for the next one; a kept connection that Redis
    /// closed meanwhile is found out and the read made on a new one.
    #[test]
    fn connections_are_kept_and_a_closed_one_is_replaced() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let answer = |stream: &mut std::net::TcpStream, reply: &[u8]| {
                let mut request = [0u8; 64];
                let _ = stream.read(&mut request);
                stream.write_all(reply).expect("reply");
            };
            // The first connection: PING, then two reads, then it is closed.
            let (mut first, _) = listener.accept().expect("accept");
            answer(&mut first, b"+PONG\r\n");
            answer(&mut first, b"$4\r\nabcd\r\n");
            answer(&mut first, b"$4\r\nefgh\r\n");
            drop(first);
            // The second: the read the closed one could not make.
            let (mut second, _) = listener.accept().expect("accept");
            answer(&mut second, b"$4\r\nijkl\r\n");
        });
        let endpoint = local(port);
        ping(&endpoint, Duration::from_secs(2)).expect("ping");
        for want in [b"abcd", b"efgh", b"ijkl"] {
            let mut whole = [0u8; 4];
            let read = read_into(
                &endpoint,
                vec![("k:0".to_owned(), &mut whole[..])],
                Duration::from_secs(2),
            );
            assert_eq!(read.ok(), Some(true));
            assert_eq!(&whole, want);
        }
        server.join().expect("server");
    }

    /// A kept connection that has gone silent (a balancer forgot it) is given up on at
    /// half a command's time, and the read is made on a new connection within the bound.
    #[test]
    fn a_kept_connection_gone_silent_is_replaced_in_time() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let (mut first, _) = listener.accept().expect("accept");
            let mut request = [0u8; 64];
            let _ = first.read(&mut request);
            first.write_all(b"+PONG\r\n").expect("pong");
            // The next request on it is never answered; a new connection's is.
            let (mut second, _) = listener.accept().expect("accept");
            let _ = second.read(&mut request);
            second.write_all(b"$4\r\nabcd\r\n").expect("reply");
            drop(first);
        });
        let endpoint = local(port);
        ping(&endpoint, Duration::from_secs(2)).expect("ping");
        let per_command = Duration::from_millis(400);
        let started = Instant::now();
        let mut whole = [0u8; 4];
        let read = read_into(&endpoint, vec![("k:0".to_owned(), &mut whole[..])], per_command);
        let took = started.elapsed();
        assert_eq!(read.ok(), Some(true));
        assert_eq!(&whole, b"abcd");
        assert!(took >= per_command / 2 && took < per_command * 2, "{took:?}");
        server.join().expect("server");
    }

    /// Only a connection whose replies were all read is kept.
    #[test]
    fn a_connection_left_mid_reply_is_not_kept() {
        let (port, server) = answering("127.0.0.1:0", b"$-1\r\n$4\r\nabcd\r\n").expect("a port");
        let endpoint = local(port);
        let (mut a, mut b) = ([0u8; 4], [0u8; 4]);
        let pieces = vec![("k:0".to_owned(), &mut a[..]), ("k:1".to_owned(), &mut b[..])];
        assert_eq!(
            read_into(&endpoint, pieces, Duration::from_secs(2)).ok(),
            Some(false)
        );
        assert!(lock(&endpoint.idle).is_empty(), "the second reply was never read");
        server.join().expect("server");
        let (port, server) = answering("127.0.0.1:0", b"$4\r\nabcd\r\n").expect("a port");
        let endpoint = local(port);
        let read = read_into(
            &endpoint,
            vec![("k:0".to_owned(), &mut a[..])],
            Duration::from_secs(2),
        );
        assert_eq!(read.ok(), Some(true));
        assert_eq!(lock(&endpoint.idle).len(), 1, "kept for the next read");
        server.join().expect("server");
    }
}
