//! Real processes for the several-servers tests: a `redis-server` of our own on a free
//! loopback port, and Stayput servers started from the built binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port, as the OS hands them out (closed again at once).
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A Redis server of this test's own; stopped when dropped.
pub(crate) struct Redis {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Starts `redis-server` (from `PATH`, or `STAYPUT_REDIS_SERVER`) on a free port,
    /// without persistence, and waits until it answers.
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut redis = Self {
            child: None,
            port: free_port(),
            dir,
        };
        redis.restart();
        redis
    }

    /// Starts it again on the same port (after [`Redis::stop`]); empty, as a fresh one.
    pub(crate) fn restart(&mut self) {
        let bin = std::env::var("STAYPUT_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let child = Command::new(&bin)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "yes"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start {bin} ({err}): install redis-server (scripts/test does)")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.command("PING").as_deref() == Some("+PONG") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not answer on port {}", self.port);
    }

    /// Stops it (SIGKILL: as if it crashed).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes it (SIGSTOP): connections stay open, nothing answers, as a hung server.
    pub(crate) fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets it go on after [`Redis::freeze`] (SIGCONT).
    pub(crate) fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .args([which, &child.id().to_string()])
                .status()
                .expect("kill");
            assert!(status.success(), "kill {which}");
        }
    }

    /// `redis://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// One inline command; its reply's first line (`None` when Redis does not answer).
    pub(crate) fn command(&self, command: &str) -> Option<String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(format!("{command}\r\n").as_bytes()).ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).ok()?;
        Some(line.trim_end().to_owned())
    }

    /// How many keys match `pattern` (`KEYS`, fine for a test's few keys).
    pub(crate) fn count_keys(&self, pattern: &str) -> usize {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
            return 0;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = stream.write_all(format!("KEYS {pattern}\r\n").as_bytes());
        let mut reader = BufReader::new(stream);
        let mut first = String::new();
        let _ = reader.read_line(&mut first);
        first
            .trim_end()
            .strip_prefix('*')
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Stayput server process; stopped when dropped.
pub(crate) struct Instance {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    _dir: tempfile::TempDir,
}

impl Instance {
    /// Starts the built `server` binary with `vars` on a port the OS picks, its own
    /// cache directory, and waits until it listens.
    pub(crate) fn start(vars: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = spawn(vars, dir.path(), Stdio::inherit());
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(at) = line.find("Stayput listening on http://") {
                        let url = line[at + "Stayput listening on ".len()..]
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                        let _ = tx.send(url);
                        sent = true;
                    }
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the server did not start: {:?}", child.try_wait()));
        Self {
            child,
            base,
            _dir: dir,
        }
    }

    /// `<base><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(vars: &[(&str, &str)], cache_dir: &std::path::Path, stderr: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info,tower_http=warn")
        .env("NO_COLOR", "1")
        .env("STAYPUT_CACHE_DIR", cache_dir)
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn the server binary")
}

/// Runs the server binary with `vars` until it exits (at most 30 s); its exit status
/// and everything it wrote to stderr.
pub(crate) fn run_to_exit(vars: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn(vars, dir.path(), Stdio::piped());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut err);
            }
            return (status, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
