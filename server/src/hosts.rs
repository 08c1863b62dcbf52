//! The `Host` names this server answers for (`STAYPUT_ALLOWED_HOSTS`).
//!
//! A page on any site can make a browser send requests to `127.0.0.1:3000`; after a DNS
//! rebinding, its own name points there too, the requests are same-origin to the
//! browser, and they carry `Host: attacker.example`. Answering only the names we were
//! told to (loopback names by default, plus the address the site is bound to) closes
//! that door, as Django's `ALLOWED_HOSTS` does.

use std::net::SocketAddr;

use app::server::errors::error_response;
use app::StayputError;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use crate::config::ConfigError;

/// The names a request's `Host` may carry (without the port), or any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHosts {
    /// `*`: every name (behind a proxy that checks it already).
    Any,
    /// These names, lowercase.
    Only(Vec<String>),
}

impl AllowedHosts {
    /// The hosts of `STAYPUT_ALLOWED_HOSTS` (`value`: names separated by commas, or `*`);
    /// when unset, the loopback names and the site's own address (`site`) unless it is
    /// a wildcard address.
    pub fn from_setting(value: Option<String>, site: SocketAddr) -> Result<Self, ConfigError> {
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            let mut names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"].map(str::to_owned).to_vec();
            if !site.ip().is_unspecified() && !site.ip().is_loopback() {
                names.push(match site {
                    SocketAddr::V4(v4) => v4.ip().to_string(),
                    SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
                });
            }
            return Ok(Self::Only(names));
        };
        if value.trim() == "*" {
            return Ok(Self::Any);
        }
        let names: Vec<String> = value
            .split(',')
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        if let Some(bad) = names
            .iter()
            .find(|n| n.contains(['/', ':', ' ']) && !n.starts_with('['))
        {
            return Err(ConfigError::Invalid {
                var: "STAYPUT_ALLOWED_HOSTS",
                value: value.clone(),
                reason: format!(
                    "{bad:?} is not a host name: write names without scheme or port, comma-separated, or *"
                ),
            });
        }
        Ok(Self::Only(names))
    }

    /// Whether a request whose `Host` header is `host` is answered.
    pub fn allows(&self, host: Option<&str>) -> bool {
        let names = match self {
            Self::Any => return true,
            Self::Only(names) => names,
        };
        let Some(host) = host else {
            return false;
        };
        let name = match host.rfind(':') {
            // A port after the name (or after an IPv6 literal's bracket).
            Some(i) if !host[..i].contains(':') || host[..i].ends_with(']') => &host[..i],
            _ => host,
        };
        names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// Answers 400 to a request for a host this server does not serve, before anything else.
pub async fn allowed_host(State(hosts): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if hosts.allows(host) {
        return next.run(request).await;
    }
    error_response(StayputError::BadRequest(
        "this server does not answer for that host name (STAYPUT_ALLOWED_HOSTS)".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_by_default_and_ports_do_not_matter() {
        let local = AllowedHosts::from_setting(None, "127.0.0.1:3000".parse().expect("addr")).expect("hosts");
        for ok in [
            "127.0.0.1:3000",
            "localhost",
            "LOCALHOST:80",
            "[::1]:3000",
            "127.0.0.1",
        ] {
            assert!(local.allows(Some(ok)), "{ok}");
        }
        for no in [
            "attacker.example",
            "attacker.example:3000",
            "127.0.0.2",
            "",
            "localhost.attacker.example",
        ] {
            assert!(!local.allows(Some(no)), "{no}");
        }
        assert!(!local.allows(None), "no Host at all");
        let bound = AllowedHosts::from_setting(None, "10.1.2.3:3000".parse().expect("addr")).expect("hosts");
        assert!(bound.allows(Some("10.1.2.3:3000")), "the site's own address");
        let named = AllowedHosts::from_setting(
            Some("data.example, Other.example".into()),
            "0.0.0.0:3000".parse().expect("addr"),
        )
        .expect("hosts");
        assert!(named.allows(Some("other.example:443")));
        assert!(!named.allows(Some("localhost")), "only the names given");
        assert_eq!(
            AllowedHosts::from_setting(Some("*".into()), "0.0.0.0:1".parse().expect("addr")).expect("any"),
            AllowedHosts::Any
        );
        assert!(AllowedHosts::from_setting(
            Some("https://x.example".into()),
            "0.0.0.0:1".parse().expect("addr")
        )
        .is_err());
    }
}
