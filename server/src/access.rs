//! Who may come in: optional access control on every route (pages, static files, server
//! functions, the WebSocket, `/metrics`), off by default on loopback.
//!
//! Credentials are configured as SHA-256 digests, never in clear: a bearer token
//! (`STAYPUT_AUTH_TOKEN_SHA256`, for scripts and Prometheus) and/or HTTP basic
//! credentials (`STAYPUT_AUTH_BASIC=user:<sha256 of the password>`, for browsers, which
//! ask for them). Both are compared in constant time. A plain SHA-256 suits long random
//! secrets (a token from `openssl rand -hex 32`); it is no protection for a short
//! password, so use a long one.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The credentials the server accepts; [`Access::open`] when none are configured.
#[derive(Clone, Default)]
pub struct Access {
    token: Option<[u8; 32]>,
    basic: Option<(String, [u8; 32])>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Digests stay out of logs and panics.
        f.debug_struct("Access")
            .field("token", &self.token.is_some())
            .field("basic_user", &self.basic.as_ref().map(|(user, _)| user))
            .finish()
    }
}

/// A credential setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDigest;

/// The 32 bytes of a 64-digit hex SHA-256 digest.
fn digest(hex: &str) -> Result<[u8; 32], BadDigest> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(BadDigest);
    }
    let mut out = [0_u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| BadDigest)?;
    }
    Ok(out)
}

fn sha256(text: &[u8]) -> [u8; 32] {
    Sha256::digest(text).into()
}

impl Access {
    /// No access control: anyone who can reach the port.
    pub fn open() -> Self {
        Self::default()
    }

    /// From the settings' values: a bearer token's digest and/or `user:digest`.
    pub fn from_settings(token_sha256: Option<&str>, basic: Option<&str>) -> Result<Self, BadDigest> {
        let token = token_sha256.map(digest).transpose()?;
        let basic = match basic {
            Some(value) => {
                let (user, hex) = value.split_once(':').ok_or(BadDigest)?;
                if user.is_empty() {
                    return Err(BadDigest);
                }
                Some((user.to_owned(), digest(hex)?))
            }
            None => None,
        };
        Ok(Self { token, basic })
    }

    /// Whether anyone may come in.
    pub fn is_open(&self) -> bool {
        self.token.is_none() && self.basic.is_none()
    }

    /// Whether `headers` carry accepted credentials.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if self.is_open() {
            return true;
        }
        let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        // The scheme is case-insensitive (RFC 9110 §11.1); its parameters are not.
        let (scheme, given) = auth.trim_start().split_once(' ').unwrap_or((auth, ""));
        let scheme = scheme.to_ascii_lowercase();
        if let (Some(token), "bearer") = (&self.token, scheme.as_str()) {
            return constant_time_eq::constant_time_eq(&sha256(given.trim().as_bytes()), token);
        }
        if let (Some((user, password)), "basic") = (&self.basic, scheme.as_str()) {
            let Ok(decoded) = STANDARD.decode(given.trim()) else {
                return false;
            };
            let Some((given_user, given_password)) = std::str::from_utf8(&decoded)
                .ok()
                .and_then(|text| text.split_once(':'))
            else {
                return false;
            };
            let user_ok =
                constant_time_eq::constant_time_eq(&sha256(given_user.as_bytes()), &sha256(user.as_bytes()));
            let password_ok =
                constant_time_eq::constant_time_eq(&sha256(given_password.as_bytes()), password);
            return user_ok & password_ok;
        }
        false
    }
}

/// Middleware: lets in only requests with accepted credentials; others get 401 and the
/// challenge their client understands.
pub async fn require(State(access): State<Access>, request: Request, next: Next) -> Response {
    if access.allows(request.headers()) {
        return next.run(request).await;
    }
    let challenge = if access.basic.is_some() {
        r#"Basic realm="Stayput", charset="UTF-8""#
    } else {
        r#"Bearer realm="Stayput""#
    };
    let mut response = (StatusCode::UNAUTHORIZED, "credentials required\n").into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: [u8; 32]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn tokens_and_basic_credentials_are_checked_against_their_digests() {
        let token_digest = hex(sha256(b"s3cret-token"));
        let basic = format!("alice:{}", hex(sha256(b"correct horse battery staple")));
        let access = Access::from_settings(Some(&token_digest), Some(&basic)).expect("settings");
        assert!(!access.is_open());
        assert!(access.allows(&with_auth("Bearer s3cret-token")));
        assert!(!access.allows(&with_auth("Bearer s3cret-tokeN")));
        assert!(
            access.allows(&with_auth("bearer s3cret-token")),
            "the scheme is case-insensitive"
        );
        assert!(access.allows(&with_auth("BEARER  s3cret-token")));
        let good = STANDARD.encode("alice:correct horse battery staple");
        assert!(access.allows(&with_auth(&format!("Basic {good}"))));
        let wrong_user = STANDARD.encode("bob:correct horse battery staple");
        assert!(!access.allows(&with_auth(&format!("Basic {wrong_user}"))));
        assert!(!access.allows(&with_auth("Basic %%%")));
        assert!(!access.allows(&HeaderMap::new()));
        assert!(Access::open().allows(&HeaderMap::new()));
    }

    #[test]
    fn malformed_digests_are_refused() {
        assert_eq!(Access::from_settings(Some("abc"), None).err(), Some(BadDigest));
        assert_eq!(
            Access::from_settings(None, Some("no-colon")).err(),
            Some(BadDigest)
        );
        assert_eq!(
            Access::from_settings(None, Some(&format!(":{}", "0".repeat(64)))).err(),
            Some(BadDigest)
        );
        assert_eq!(
            Access::from_settings(Some(&"g".repeat(64)), None).err(),
            Some(BadDigest)
        );
        assert!(format!("{:?}", Access::from_settings(Some(&"a".repeat(64)), None)).contains("token: true"));
    }
}
