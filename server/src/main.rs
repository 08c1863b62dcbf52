//! `server`: serves Stayput on `LEPTOS_SITE_ADDR` (default http://127.0.0.1:3000).

use std::process::ExitCode;

use server::Config;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
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
    let stayput = match server::build(&config) {
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
        "Stayput listening on http://{addr}"
    );
    if let (Some(metrics_addr), Some(metrics)) = (config.metrics_addr, stayput.metrics.clone()) {
        match tokio::net::TcpListener::bind(metrics_addr).await {
            Ok(listener) => {
                tracing::info!(addr = %metrics_addr, "metrics on http://{metrics_addr}/metrics");
                tokio::spawn(async move {
                    if let Err(err) = axum::serve(listener, metrics).await {
                        tracing::error!(%err, "metrics listener failed");
                    }
                });
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
