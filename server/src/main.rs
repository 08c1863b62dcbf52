//! `server`: serves Stayput on `LEPTOS_SITE_ADDR` (default http://127.0.0.1:3000).

use std::process::ExitCode;

use server::Config;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    return_freed_frames_to_the_os();
    large_work_yields_to_small();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run()),
        Err(err) => {
            eprintln!("stayput: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

/// glibc's malloc raises its mmap threshold to the size of each large block freed (up
/// to 32 MiB), after which frames of up to that size come from its heaps, where freed
/// memory fragments and stays in the process: RSS then drifts above the memory budget
/// although the cache freed what it evicted. A fixed threshold keeps every buffer of
/// 128 KiB or more (a frame of 16,384 rows or more) in its own mapping, given back to the
/// OS when the frame is dropped.
fn return_freed_frames_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets a malloc parameter; it is called once, before any
        // other thread exists, with a valid parameter and value.
        #[allow(unsafe_code)]
        let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
        if ok != 1 {
            eprintln!("stayput: could not fix malloc's mmap threshold; RSS may exceed the budget more");
        }
    }
}

/// Raises this process's open-file limit to its hard limit (the soft default, 1,024 on
/// many systems, is a few hundred connections and the files beside them). Returns the
/// limit in force. Running out is still handled: the accept loop waits and retries, and
/// `STAYPUT_MAX_CONNECTIONS` keeps connections well under it.
fn raise_file_limit() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit read and write the plain struct passed by
        // pointer, which lives on this stack frame for the whole call.
        #[allow(unsafe_code)]
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return None;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
        }
        Some(limit.rlim_cur)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Large work (fills, means and histograms of a million rows and more, reductions) runs
/// on rayon's pool; small requests run on tokio's threads. Both want the same cores, and
/// a 1e8-row fill on every core made a one-row request wait for its time slice. Rayon's
/// threads run at a lower priority (nice 10): large work still takes every idle cycle,
/// and a small request preempts it.
fn large_work_yields_to_small() {
    let built = rayon::ThreadPoolBuilder::new()
        .start_handler(|_| {
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            {
                // SAFETY: gettid and setpriority take and return plain integers; raising
                // this thread's own nice value needs no privilege.
                #[allow(unsafe_code)]
                unsafe {
                    let thread = libc::gettid();
                    libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, 10);
                }
            }
        })
        .build_global();
    if let Err(err) = built {
        eprintln!("stayput: rayon's pool was already built ({err}); large work keeps the normal priority");
    }
}

async fn run() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn")),
        )
        .init();

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("stayput: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(problem) = config.exposure_problem() {
        eprintln!("stayput: {problem}");
        return ExitCode::FAILURE;
    }
    let wanted = config.leptos.site_addr;
    // Several servers: Redis must answer now, or this one must not start.
    let shared = match &config.redis {
        Some(settings) => match stayput_cache::SharedStore::connect(settings.clone()).await {
            Ok(shared) => {
                tracing::info!(redis = %stayput_cache::redacted(&settings.url), "sharing sessions and handles through Redis");
                if config.shared_dir.is_none() {
                    tracing::warn!(
                        "STAYPUT_SHARED_DIR is not set: uploads stay on the server that took them"
                    );
                }
                Some(shared)
            }
            Err(err) => {
                eprintln!("stayput: {err} (check STAYPUT_REDIS_URL, or unset it to run alone)");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let stayput = match server::build_shared(&config, shared) {
        Ok(stayput) => stayput,
        Err(err) => {
            eprintln!("stayput: {err}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(wanted).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("stayput: cannot listen on {wanted}: {err} (set LEPTOS_SITE_ADDR to another address)");
            return ExitCode::FAILURE;
        }
    };
    // With port 0 the OS picks the port; report the one actually bound (the tests read it).
    let addr = listener.local_addr().unwrap_or(wanted);
    tracing::info!(
        %addr,
        memory_budget = %config.memory_budget,
        session_quota = %config.session_quota,
        disk_budget = %config.disk_budget,
        cache_dir = %config.cache_dir.display(),
        idle_timeout_s = config.idle_timeout.as_secs(),
        open_files = raise_file_limit().unwrap_or(0),
        max_connections = config.serve.max_connections,
        "Stayput listening on http://{addr}"
    );
    if let (Some(metrics_addr), Some(metrics)) = (config.metrics_addr, stayput.metrics.clone()) {
        match tokio::net::TcpListener::bind(metrics_addr).await {
            Ok(listener) => {
                tracing::info!(addr = %metrics_addr, "metrics on http://{metrics_addr}/metrics");
                // Under the same header, write and connection limits as the site.
                let limits = config.serve;
                tokio::spawn(server::serve::serve(
                    listener,
                    metrics,
                    limits,
                    std::future::pending(),
                ));
            }
            Err(err) => {
                eprintln!("stayput: cannot listen on {metrics_addr}: {err} (set STAYPUT_METRICS_ADDR to another address)");
                return ExitCode::FAILURE;
            }
        }
    }
    server::serve::serve(listener, stayput.router, config.serve, shutdown_signal()).await;
    drop(stayput.purger);
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
