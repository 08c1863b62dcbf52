//! Byte sizes as people write them in configuration: `4GiB`, `512 MB`, `1e9`.

use std::fmt;
use std::str::FromStr;

/// A number of bytes that parses from and prints as a human size.
///
/// Decimal units (`kB`, `MB`, `GB`, `TB`) are powers of 1000, binary units (`KiB`,
/// `MiB`, `GiB`, `TiB`, and the short `K`, `M`, `G`, `T`) powers of 1024. A bare
/// number, also in `1e9` form, is bytes. Parsing is case-insensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

/// Why a size could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseSizeError {
    /// Nothing was given.
    #[error("empty size")]
    Empty,
    /// The number part is not a non-negative number.
    #[error("`{0}` is not a size; write e.g. 512MiB, 4GiB or 1000000")]
    Invalid(String),
    /// The unit is not one we know.
    #[error("unknown unit `{unit}` in `{input}`; use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB")]
    UnknownUnit {
        /// The whole input.
        input: String,
        /// The unit part of it.
        unit: String,
    },
    /// The size does not fit in 64 bits.
    #[error("`{0}` is too large")]
    Overflow(String),
}

impl ByteSize {
    /// The number of bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

fn unit_factor(unit: &str) -> Option<u64> {
    const K: u64 = 1024;
    Some(match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "k" | "kib" => K,
        "m" | "mib" => K * K,
        "g" | "gib" => K * K * K,
        "t" | "tib" => K * K * K * K,
        _ => return None,
    })
}

impl FromStr for ByteSize {
    type Err = ParseSizeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(ParseSizeError::Empty);
        }
        // The number is everything up to the first letter other than an exponent `e`
        // that is followed by a digit.
        let bytes = trimmed.as_bytes();
        let mut split = trimmed.len();
        for (i, c) in trimmed.char_indices() {
            let is_exponent =
                (c == 'e' || c == 'E') && i > 0 && bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit());
            if c.is_ascii_alphabetic() && !is_exponent {
                split = i;
                break;
            }
        }
        let (number, unit) = trimmed.split_at(split);
        let number = number.trim();
        let unit = unit.trim();
        let factor = unit_factor(unit).ok_or_else(|| ParseSizeError::UnknownUnit {
            input: trimmed.to_owned(),
            unit: unit.to_owned(),
        })?;
        let invalid = || ParseSizeError::Invalid(trimmed.to_owned());
        if let Ok(whole) = number.parse::<u64>() {
            return whole
                .checked_mul(factor)
                .map(ByteSize)
                .ok_or_else(|| ParseSizeError::Overflow(trimmed.to_owned()));
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        if !value.is_finite() || value < 0.0 {
            return Err(invalid());
        }
        let total = value * factor as f64;
        if total >= u64::MAX as f64 {
            return Err(ParseSizeError::Overflow(trimmed.to_owned()));
        }
        Ok(ByteSize(total.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit < UNITS.len() - 1 {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{value:.1} {}", UNITS[unit])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<u64, ParseSizeError> {
        s.parse::<ByteSize>().map(ByteSize::bytes)
    }

    #[test]
    fn parses_units_and_plain_numbers() {
        assert_eq!(parse("4GiB"), Ok(4 << 30));
        assert_eq!(parse("4 gib"), Ok(4 << 30));
        assert_eq!(parse("512MB"), Ok(512_000_000));
        assert_eq!(parse("1.5G"), Ok(3 << 29));
        assert_eq!(parse("1e9"), Ok(1_000_000_000));
        assert_eq!(parse("123"), Ok(123));
        assert_eq!(parse("0"), Ok(0));
    }

    #[test]
    fn rejects_nonsense_with_a_reason() {
        assert_eq!(parse(""), Err(ParseSizeError::Empty));
        assert!(matches!(parse("lots"), Err(ParseSizeError::UnknownUnit { .. })));
        assert!(matches!(
            parse("4 parsecs"),
            Err(ParseSizeError::UnknownUnit { .. })
        ));
        assert!(matches!(parse("-3GiB"), Err(ParseSizeError::Invalid(_))));
        assert!(matches!(
            parse("99999999999TiB"),
            Err(ParseSizeError::Overflow(_))
        ));
    }

    #[test]
    fn displays_binary_units() {
        assert_eq!(ByteSize(512).to_string(), "512 B");
        assert_eq!(ByteSize(3 << 29).to_string(), "1.5 GiB");
        assert_eq!(ByteSize(8_000_000).to_string(), "7.6 MiB");
    }
}
