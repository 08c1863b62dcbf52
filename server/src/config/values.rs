//! A setting's text read as the value it stands for: a size, a switch, a duration. Each
//! refusal names the setting and says what to write.

use std::time::Duration;

use stayput_cache::ByteSize;

use super::ConfigError;

/// A size of at least `least` bytes (`at_least` says it to the user).
fn parse_size(var: &'static str, value: String, least: u64, at_least: &str) -> Result<ByteSize, ConfigError> {
    match value.parse::<ByteSize>() {
        Ok(size) if size.bytes() >= least => Ok(size),
        Ok(_) => Err(ConfigError::Invalid {
            var,
            value,
            reason: format!("must be {at_least}"),
        }),
        Err(err) => Err(ConfigError::Invalid {
            var,
            value,
            reason: err.to_string(),
        }),
    }
}

/// A budget: at least 1 MiB.
pub(super) fn parse_budget(var: &'static str, value: String) -> Result<ByteSize, ConfigError> {
    parse_size(var, value, 1 << 20, "at least 1MiB")
}

/// The piece of a CSV parsed while it arrives: `0` (off) or at least 64 KiB.
pub(super) fn parse_piece(var: &'static str, value: String) -> Result<ByteSize, ConfigError> {
    if value.trim() == "0" {
        return Ok(ByteSize(0));
    }
    parse_size(var, value, 64 << 10, "0 (off) or at least 64KiB")
}

/// `true`/`yes`/`1` or `false`/`no`/`0` (unset or empty: false).
pub(super) fn parse_bool(var: &'static str, value: Option<String>) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("" | "0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some(other) => Err(ConfigError::Invalid {
            var,
            value: other.to_owned(),
            reason: "write true or false".into(),
        }),
    }
}

/// Longest duration a setting may give: a year.
const MAX_DURATION_S: u64 = 365 * 86_400;

/// `90`, `90s`, `15m`, `2h`, `1d`: seconds unless a unit says otherwise.
pub(super) fn parse_duration(var: &'static str, value: String) -> Result<Duration, ConfigError> {
    let trimmed = value.trim();
    let (number, factor) = match trimmed.char_indices().last() {
        Some((i, 's')) => (&trimmed[..i], 1),
        Some((i, 'm')) => (&trimmed[..i], 60),
        Some((i, 'h')) => (&trimmed[..i], 3600),
        Some((i, 'd')) => (&trimmed[..i], 86_400),
        _ => (trimmed, 1),
    };
    number
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        // At most a year: timers add durations to instants, which must not overflow.
        .filter(|&secs| secs > 0 && secs <= MAX_DURATION_S)
        .map(Duration::from_secs)
        .ok_or_else(|| ConfigError::Invalid {
            var,
            value: value.clone(),
            reason: "write a positive duration of at most 365d, such as 90s, 30m, 2h or 1d".into(),
        })
}
