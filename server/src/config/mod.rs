//! Configuration: `STAYPUT_*` variables for Stayput, `LEPTOS_*` for Leptos, each with
//! an embedded default so that the server starts with none of them set.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use app::contract::client_mode::DEFAULT_MAX_ROWS;
use app::server::heavy::HeavyLimits;
use leptos::config::{get_configuration, LeptosOptions};
use stayput_cache::{ByteSize, SharedSettings, DEFAULT_MAX_FRAMES_PER_SESSION};
use stayput_sessions::DEFAULT_MAX_SESSIONS;

use crate::access::{Access, BadDigest};
use crate::serve::ServeLimits;

mod values;
use values::{parse_bool, parse_budget, parse_duration, parse_piece};

/// Everything the server reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Leptos's own options (address, site root, output name), from `LEPTOS_*`.
    pub leptos: LeptosOptions,
    /// `STAYPUT_MEMORY_BUDGET`: bytes of frames kept in memory across all sessions.
    pub memory_budget: ByteSize,
    /// `STAYPUT_SESSION_QUOTA`: most bytes of memory one session may hold.
    pub session_quota: ByteSize,
    /// `STAYPUT_CACHE_DIR`: where the disk tier keeps its files.
    pub cache_dir: PathBuf,
    /// `STAYPUT_DISK_BUDGET`: bytes of frames kept on disk across all sessions.
    pub disk_budget: ByteSize,
    /// `STAYPUT_IDLE_TIMEOUT`: a frame unused this long loses its data (its lineage stays).
    pub idle_timeout: Duration,
    /// `STAYPUT_SESSION_TIMEOUT`: a session unseen this long ends, with all its frames.
    pub session_timeout: Duration,
    /// `STAYPUT_CLIENT_MAX_ROWS`: most rows client mode sends through the browser.
    pub client_max_rows: u64,
    /// `STAYPUT_SECURE_COOKIE`: mark the session cookie `Secure` (behind HTTPS).
    pub secure_cookie: bool,
    /// `STAYPUT_ALLOWED_HOSTS`: the `Host` names answered (default: loopback names and
    /// the site's own address).
    pub allowed_hosts: crate::hosts::AllowedHosts,
    /// `STAYPUT_HEAVY_JOBS`, `STAYPUT_HEAVY_QUEUE`, `STAYPUT_HEAVY_WAIT`: large jobs at
    /// once, waiting at most, and the longest wait, before requests are shed.
    pub heavy: HeavyLimits,
    /// `STAYPUT_MAX_FRAMES`: most frames (entries, evicted ones included) one session
    /// holds; beyond, its least recently used is forgotten.
    pub max_frames: usize,
    /// `STAYPUT_MAX_SESSIONS`: most sessions the server keeps at once.
    pub max_sessions: u64,
    /// `STAYPUT_AUTH_TOKEN_SHA256`, `STAYPUT_AUTH_BASIC`: who may come in (open when
    /// neither is set).
    pub access: Access,
    /// `STAYPUT_ALLOW_ANONYMOUS`: serve a non-loopback address without access control.
    pub allow_anonymous: bool,
    /// `STAYPUT_METRICS_ADDR`: serve `/metrics` on this address only, not on the site's.
    pub metrics_addr: Option<SocketAddr>,
    /// `STAYPUT_HEADER_TIMEOUT`, `STAYPUT_SHUTDOWN_GRACE`, `STAYPUT_WRITE_TIMEOUT`: how
    /// connections are served.
    pub serve: ServeLimits,
    /// `STAYPUT_REQUEST_TIMEOUT`: longest a request may run before it is answered 503
    /// and its work is cancelled (a socket's life after its upgrade is not a request).
    pub request_timeout: Duration,
    /// `STAYPUT_BODY_TIMEOUT`: an upload that sends nothing for this long is cut off (408).
    pub body_timeout: Duration,
    /// `STAYPUT_UPLOAD_MAX`: most bytes one upload may have.
    pub upload_max: ByteSize,
    /// `STAYPUT_UPLOAD_PIECE`: bytes of a large CSV parsed at a time while it arrives
    /// (`0`: read whole once complete).
    pub upload_piece: ByteSize,
    /// `STAYPUT_EXAMPLES_DIR`: the built-in datasets (default: `examples/` in the site root).
    pub examples_dir: PathBuf,
    /// `STAYPUT_SOCKETS_PER_SESSION`: most steps sockets one session may hold open.
    pub sockets_per_session: usize,
    /// `STAYPUT_MAX_SOCKETS`: most steps sockets open at once, all sessions.
    pub max_sockets: usize,
    /// `STAYPUT_REDIS_URL` (off when unset) and `STAYPUT_REDIS_PREFIX`,
    /// `STAYPUT_REDIS_FRAME_MAX`, `STAYPUT_REDIS_FRAME_TTL`, `STAYPUT_REDIS_TIMEOUT`:
    /// several servers sharing sessions, handles and small frames through Redis.
    pub redis: Option<SharedSettings>,
    /// `STAYPUT_SHARED_DIR`: where uploads are kept when several servers share them (a
    /// directory every server reads at the same path); default: `uploads/` in the cache
    /// directory, this server's own.
    pub shared_dir: Option<PathBuf>,
}

/// A setting that could not be used; the message names the variable and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A `STAYPUT_*` variable has a value we cannot use.
    #[error("{var}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// Leptos rejected its `LEPTOS_*` variables.
    #[error("Leptos configuration: {0}")]
    Leptos(String),
}

/// Name of the built site (`<site>/pkg/<name>.js`), also set by cargo-leptos.
const OUTPUT_NAME: &str = "stayput";
/// Default idle timeout: 30 minutes.
const DEFAULT_IDLE: Duration = Duration::from_secs(30 * 60);
/// Default session timeout: 24 hours.
const DEFAULT_SESSION: Duration = Duration::from_secs(24 * 60 * 60);
/// Default request timeout: 2 minutes.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Default cap on steps sockets, all sessions.
pub const DEFAULT_MAX_SOCKETS: usize = 1024;
/// Default of `STAYPUT_UPLOAD_MAX`: 2 GiB.
pub const DEFAULT_UPLOAD_MAX: ByteSize = ByteSize(2 << 30);
/// Default of `STAYPUT_UPLOAD_PIECE`: 16 MiB.
pub const DEFAULT_UPLOAD_PIECE: ByteSize = ByteSize(16 << 20);
/// Default of `STAYPUT_BODY_TIMEOUT`.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on steps sockets per session.
pub const DEFAULT_SOCKETS_PER_SESSION: usize = 4;
/// Default disk budget: 8 GiB.
const DEFAULT_DISK_BUDGET: ByteSize = ByteSize(8 << 30);

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process
    /// environment. Leptos's options still come from the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut leptos = get_configuration(None)
            .map_err(|err| ConfigError::Leptos(err.to_string()))?
            .leptos_options;
        if leptos.output_name.is_empty() {
            leptos.output_name = OUTPUT_NAME.into();
        }
        let memory_budget = match lookup("STAYPUT_MEMORY_BUDGET") {
            Some(value) => parse_budget("STAYPUT_MEMORY_BUDGET", value)?,
            None => default_memory_budget(),
        };
        let session_quota = match lookup("STAYPUT_SESSION_QUOTA") {
            Some(value) => parse_budget("STAYPUT_SESSION_QUOTA", value)?,
            None => ByteSize(memory_budget.bytes() / 2),
        };
        let disk_budget = match lookup("STAYPUT_DISK_BUDGET") {
            Some(value) => parse_budget("STAYPUT_DISK_BUDGET", value)?,
            None => DEFAULT_DISK_BUDGET,
        };
        let cache_dir = match lookup("STAYPUT_CACHE_DIR") {
            Some(value) if !value.trim().is_empty() => PathBuf::from(value.trim()),
            Some(value) => {
                return Err(ConfigError::Invalid {
                    var: "STAYPUT_CACHE_DIR",
                    value,
                    reason: "write a directory path".into(),
                })
            }
            None => default_cache_dir(&lookup),
        };
        let idle_timeout = match lookup("STAYPUT_IDLE_TIMEOUT") {
            Some(value) => parse_duration("STAYPUT_IDLE_TIMEOUT", value)?,
            None => DEFAULT_IDLE,
        };
        let session_timeout = match lookup("STAYPUT_SESSION_TIMEOUT") {
            Some(value) => parse_duration("STAYPUT_SESSION_TIMEOUT", value)?,
            None => DEFAULT_SESSION,
        };
        let client_max_rows = match lookup("STAYPUT_CLIENT_MAX_ROWS") {
            Some(value) => value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|rows| (1..=app::contract::sizes::MAX_ROWS).contains(rows))
                .ok_or_else(|| ConfigError::Invalid {
                    var: "STAYPUT_CLIENT_MAX_ROWS",
                    value,
                    reason: format!(
                        "write a whole number of rows from 1 to {}",
                        app::contract::sizes::MAX_ROWS
                    ),
                })?,
            None => DEFAULT_MAX_ROWS,
        };
        let secure_cookie = parse_bool("STAYPUT_SECURE_COOKIE", lookup("STAYPUT_SECURE_COOKIE"))?;
        let allowed_hosts =
            crate::hosts::AllowedHosts::from_setting(lookup("STAYPUT_ALLOWED_HOSTS"), leptos.site_addr)?;
        let allow_anonymous = parse_bool("STAYPUT_ALLOW_ANONYMOUS", lookup("STAYPUT_ALLOW_ANONYMOUS"))?;
        let token = lookup("STAYPUT_AUTH_TOKEN_SHA256").filter(|v| !v.trim().is_empty());
        let basic = lookup("STAYPUT_AUTH_BASIC").filter(|v| !v.trim().is_empty());
        let access = Access::from_settings(token.as_deref(), basic.as_deref()).map_err(|BadDigest| {
            ConfigError::Invalid {
                var: if token.is_some() {
                    "STAYPUT_AUTH_TOKEN_SHA256"
                } else {
                    "STAYPUT_AUTH_BASIC"
                },
                value: "(hidden)".into(),
                reason: "write the 64 hex digits of a SHA-256 digest (`printf %s SECRET | sha256sum`); \
                         STAYPUT_AUTH_BASIC is user:digest"
                    .into(),
            }
        })?;
        let metrics_addr = match lookup("STAYPUT_METRICS_ADDR").filter(|v| !v.trim().is_empty()) {
            Some(value) => Some(
                value
                    .trim()
                    .parse::<SocketAddr>()
                    .map_err(|_| ConfigError::Invalid {
                        var: "STAYPUT_METRICS_ADDR",
                        value: value.clone(),
                        reason: "write an address and port such as 127.0.0.1:9100".into(),
                    })?,
            ),
            None => None,
        };
        let defaults = HeavyLimits::for_this_machine();
        let count = |var: &'static str, default: usize, least: usize| match lookup(var) {
            Some(value) => value
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (least..=1_000_000).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    var,
                    value,
                    reason: format!("write a whole number from {least} to 1000000"),
                }),
            None => Ok(default),
        };
        let heavy = HeavyLimits {
            slots: count("STAYPUT_HEAVY_JOBS", defaults.slots, 1)?,
            queue: count("STAYPUT_HEAVY_QUEUE", defaults.queue, 0)?,
            wait: match lookup("STAYPUT_HEAVY_WAIT") {
                Some(value) => parse_duration("STAYPUT_HEAVY_WAIT", value)?,
                None => defaults.wait,
            },
        };
        let max_frames = count("STAYPUT_MAX_FRAMES", DEFAULT_MAX_FRAMES_PER_SESSION, 1)?;
        let max_sessions = count("STAYPUT_MAX_SESSIONS", DEFAULT_MAX_SESSIONS as usize, 1)? as u64;
        let sockets_per_session = count("STAYPUT_SOCKETS_PER_SESSION", DEFAULT_SOCKETS_PER_SESSION, 1)?;
        let max_sockets = count("STAYPUT_MAX_SOCKETS", DEFAULT_MAX_SOCKETS, 1)?;
        let duration = |var: &'static str, default: Duration| match lookup(var) {
            Some(value) => parse_duration(var, value),
            None => Ok(default),
        };
        let serve_defaults = ServeLimits::default();
        let serve = ServeLimits {
            header_timeout: duration("STAYPUT_HEADER_TIMEOUT", serve_defaults.header_timeout)?,
            shutdown_grace: duration("STAYPUT_SHUTDOWN_GRACE", serve_defaults.shutdown_grace)?,
            write_timeout: duration("STAYPUT_WRITE_TIMEOUT", serve_defaults.write_timeout)?,
            max_connections: count("STAYPUT_MAX_CONNECTIONS", serve_defaults.max_connections, 1)?,
            max_per_address: count(
                "STAYPUT_MAX_CONNECTIONS_PER_ADDRESS",
                serve_defaults.max_per_address,
                0,
            )?,
        };
        let request_timeout = duration("STAYPUT_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT)?;
        let body_timeout = duration("STAYPUT_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT)?;
        let upload_max = match lookup("STAYPUT_UPLOAD_MAX") {
            Some(value) => parse_budget("STAYPUT_UPLOAD_MAX", value)?,
            None => DEFAULT_UPLOAD_MAX,
        };
        let upload_piece = match lookup("STAYPUT_UPLOAD_PIECE") {
            Some(value) => parse_piece("STAYPUT_UPLOAD_PIECE", value)?,
            None => DEFAULT_UPLOAD_PIECE,
        };
        let examples_dir = lookup("STAYPUT_EXAMPLES_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(leptos.site_root.as_ref()).join("examples"));
        let redis = match lookup("STAYPUT_REDIS_URL").filter(|v| !v.trim().is_empty()) {
            Some(url) => {
                let url = url.trim().to_owned();
                if !(url.starts_with("redis://")
                    || url.starts_with("rediss://")
                    || url.starts_with("redis+unix://"))
                {
                    return Err(ConfigError::Invalid {
                        var: "STAYPUT_REDIS_URL",
                        value: stayput_cache::redacted(&url),
                        reason: "write redis://[user:password@]host:port[/db]".into(),
                    });
                }
                let mut settings = SharedSettings::new(url);
                if let Some(prefix) = lookup("STAYPUT_REDIS_PREFIX") {
                    let ok = !prefix.is_empty()
                        && prefix.len() <= 64
                        && prefix
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                    if !ok {
                        return Err(ConfigError::Invalid {
                            var: "STAYPUT_REDIS_PREFIX",
                            value: prefix,
                            reason: "write 1 to 64 letters, digits, '-', '_' or '.'".into(),
                        });
                    }
                    settings.prefix = prefix;
                }
                if let Some(value) = lookup("STAYPUT_REDIS_FRAME_MAX") {
                    settings.frame_max = parse_budget("STAYPUT_REDIS_FRAME_MAX", value)?.bytes();
                }
                settings.frame_ttl = duration("STAYPUT_REDIS_FRAME_TTL", settings.frame_ttl)?;
                settings.command_timeout = duration("STAYPUT_REDIS_TIMEOUT", settings.command_timeout)?;
                Some(settings)
            }
            None => None,
        };
        let shared_dir = lookup("STAYPUT_SHARED_DIR")
            .filter(|v| !v.trim().is_empty())
            .map(|v| PathBuf::from(v.trim()));
        Ok(Self {
            redis,
            shared_dir,
            body_timeout,
            upload_max,
            upload_piece,
            examples_dir,
            serve,
            request_timeout,
            sockets_per_session,
            max_sockets,
            heavy,
            max_frames,
            max_sessions,
            access,
            allow_anonymous,
            metrics_addr,
            leptos,
            memory_budget,
            session_quota,
            cache_dir,
            disk_budget,
            idle_timeout,
            session_timeout,
            client_max_rows,
            secure_cookie,
            allowed_hosts,
        })
    }
}

impl Config {
    /// Why the server must not start as configured, in one line: listening beyond
    /// loopback with no access control, unless `STAYPUT_ALLOW_ANONYMOUS` says anonymous
    /// access is intended (the idea of Redis's protected mode).
    /// The metrics address, when set, is held to the same rule.
    pub fn exposure_problem(&self) -> Option<String> {
        let site = self.leptos.site_addr;
        let addr = match self.metrics_addr {
            Some(metrics) if !metrics.ip().is_loopback() && site.ip().is_loopback() => metrics,
            _ => site,
        };
        let exposed = !addr.ip().is_loopback();
        (exposed && self.access.is_open() && !self.allow_anonymous).then(|| {
            format!(
                "refusing to serve {addr} to the network without access control: set \
                 STAYPUT_AUTH_TOKEN_SHA256 or STAYPUT_AUTH_BASIC, or STAYPUT_ALLOW_ANONYMOUS=true \
                 if anonymous access is intended"
            )
        })
    }
}

/// `$XDG_CACHE_HOME/stayput`, else `$HOME/.cache/stayput`, else `./target/stayput-cache`.
fn default_cache_dir(lookup: &impl Fn(&str) -> Option<String>) -> PathBuf {
    let non_empty = |key| lookup(key).filter(|v: &String| !v.trim().is_empty());
    if let Some(xdg) = non_empty("XDG_CACHE_HOME") {
        return PathBuf::from(xdg).join("stayput");
    }
    if let Some(home) = non_empty("HOME") {
        return PathBuf::from(home).join(".cache").join("stayput");
    }
    PathBuf::from("target").join("stayput-cache")
}

/// A quarter of the machine's memory (`MemTotal` in `/proc/meminfo`), or 2 GiB where
/// that cannot be read.
fn default_memory_budget() -> ByteSize {
    let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        text.lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    });
    ByteSize(total_kib.map_or(2 << 30, |kib| kib * 1024 / 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|key| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn embedded_defaults_need_no_variables() {
        let config = config(&[]).expect("defaults");
        assert!(config.memory_budget.bytes() >= 1 << 20);
        assert_eq!(config.idle_timeout, DEFAULT_IDLE);
        assert_eq!(config.session_timeout, DEFAULT_SESSION);
        assert_eq!(config.session_quota.bytes(), config.memory_budget.bytes() / 2);
        assert_eq!(config.disk_budget, DEFAULT_DISK_BUDGET);
        assert_eq!(
            config.cache_dir,
            PathBuf::from("target/stayput-cache"),
            "no HOME here"
        );
        assert_eq!(config.client_max_rows, DEFAULT_MAX_ROWS);
        assert!(!config.secure_cookie);
        assert!(!config.leptos.output_name.is_empty());
    }

    #[test]
    fn variables_override_defaults() {
        let config = config(&[
            ("STAYPUT_MEMORY_BUDGET", "4GiB"),
            ("STAYPUT_IDLE_TIMEOUT", "15m"),
            ("STAYPUT_SESSION_TIMEOUT", "2h"),
            ("STAYPUT_SESSION_QUOTA", "1GiB"),
            ("STAYPUT_DISK_BUDGET", "20GB"),
            ("STAYPUT_CACHE_DIR", "/var/cache/stayput"),
            ("STAYPUT_CLIENT_MAX_ROWS", "1000"),
            ("STAYPUT_SECURE_COOKIE", "true"),
        ])
        .expect("valid");
        assert_eq!(config.memory_budget, ByteSize(4 << 30));
        assert_eq!(config.idle_timeout, Duration::from_secs(900));
        assert_eq!(config.session_timeout, Duration::from_secs(7200));
        assert_eq!(config.session_quota, ByteSize(1 << 30));
        assert_eq!(config.disk_budget, ByteSize(20_000_000_000));
        assert_eq!(config.cache_dir, PathBuf::from("/var/cache/stayput"));
        assert_eq!(config.client_max_rows, 1000);
        assert!(config.secure_cookie);
    }

    #[test]
    fn invalid_values_name_the_variable_and_the_fix() {
        for (var, value, hint) in [
            ("STAYPUT_MEMORY_BUDGET", "lots", "unknown unit"),
            ("STAYPUT_MEMORY_BUDGET", "10kB", "at least 1MiB"),
            ("STAYPUT_IDLE_TIMEOUT", "0", "positive duration"),
            ("STAYPUT_IDLE_TIMEOUT", "soon", "positive duration"),
            ("STAYPUT_SESSION_TIMEOUT", "1y", "positive duration"),
            ("STAYPUT_SESSION_QUOTA", "1", "at least 1MiB"),
            ("STAYPUT_DISK_BUDGET", "much", "unknown unit"),
            ("STAYPUT_CACHE_DIR", " ", "directory path"),
            ("STAYPUT_CLIENT_MAX_ROWS", "-1", "whole number"),
            ("STAYPUT_SECURE_COOKIE", "maybe", "true or false"),
            ("STAYPUT_HEAVY_JOBS", "0", "whole number from 1"),
            ("STAYPUT_HEAVY_QUEUE", "many", "whole number from 0"),
            ("STAYPUT_HEAVY_WAIT", "never", "positive duration"),
            ("STAYPUT_HEADER_TIMEOUT", "18446744073709551615s", "at most 365d"),
            ("STAYPUT_MAX_FRAMES", "0", "whole number from 1"),
            ("STAYPUT_MAX_SESSIONS", "0", "whole number from 1"),
            ("STAYPUT_ALLOW_ANONYMOUS", "perhaps", "true or false"),
            ("STAYPUT_AUTH_TOKEN_SHA256", "hunter2", "64 hex digits"),
            ("STAYPUT_AUTH_BASIC", "alice:hunter2", "64 hex digits"),
            ("STAYPUT_METRICS_ADDR", "metrics", "address and port"),
        ] {
            let err = config(&[(var, value)]).expect_err(value).to_string();
            assert!(err.starts_with(var), "{err}");
            assert!(err.contains(hint), "{err}");
        }
    }

    #[test]
    fn secrets_never_appear_in_errors() {
        let err = config(&[("STAYPUT_AUTH_TOKEN_SHA256", "hunter2")])
            .expect_err("short")
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn serving_the_network_anonymously_needs_saying_so() {
        let mut exposed = config(&[]).expect("defaults");
        assert_eq!(exposed.exposure_problem(), None, "loopback by default");
        exposed.leptos.site_addr = "0.0.0.0:3000".parse().expect("addr");
        let problem = exposed.exposure_problem().expect("refused");
        assert!(
            problem.contains("0.0.0.0:3000") && problem.contains("STAYPUT_ALLOW_ANONYMOUS"),
            "{problem}"
        );
        exposed.allow_anonymous = true;
        assert_eq!(exposed.exposure_problem(), None, "intended");
        let mut guarded = config(&[("STAYPUT_AUTH_TOKEN_SHA256", &"ab".repeat(32))]).expect("token");
        guarded.leptos.site_addr = "0.0.0.0:3000".parse().expect("addr");
        assert_eq!(guarded.exposure_problem(), None, "credentials required");
        // The metrics listener beyond loopback is the same exposure (issue 23).
        let mut metrics = config(&[("STAYPUT_METRICS_ADDR", "0.0.0.0:9100")]).expect("metrics");
        let problem = metrics.exposure_problem().expect("refused");
        assert!(problem.contains("0.0.0.0:9100"), "{problem}");
        metrics.allow_anonymous = true;
        assert_eq!(metrics.exposure_problem(), None, "intended");
    }
}
