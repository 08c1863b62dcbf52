//! The start-up every server test shares: the real router, on a real socket on an
//! OS-picked loopback port, with its own cache directory.

// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;

use server::{Config, Stayput};

/// A running server; dropping it stops it and removes its cache directory.
pub(crate) struct Running {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// The built server (its cache, for assertions).
    pub(crate) stayput: Stayput,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Running {
    /// `http://<addr><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// Starts a server configured by `vars` (`STAYPUT_*` settings; the cache directory is a
/// fresh temporary one unless `vars` names one).
pub(crate) async fn start(vars: &[(&str, &str)]) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_text = dir.path().display().to_string();
    let config = Config::from_lookup(|key| {
        vars.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| (key == "STAYPUT_CACHE_DIR").then(|| dir_text.clone()))
    })
    .expect("config");
    let stayput = server::build(&config).expect("build");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = stayput.router.clone();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    Running {
        addr,
        stayput,
        _dir: dir,
        task,
    }
}
