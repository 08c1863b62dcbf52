//! The frame sizes the benchmark offers, and the rule the server enforces.

use crate::contract::StayputError;

pub use stayput_figures::with_thousands;

/// Largest frame the benchmark builds: 1e8 rows of f64, 800 MB.
pub const MAX_ROWS: u64 = 100_000_000;

/// Largest frame `/explore` makes on disk when it is larger than memory: 1e9 rows of
/// f64, 8 GB (within the disk budget; see `ExploreSizes`).
pub const MAX_DISK_ROWS: u64 = 1_000_000_000;

/// The sizes in the selector: powers of ten from 1 to 1e8.
pub const OFFERED: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// What the selector shows first.
pub const DEFAULT_ROWS: u64 = 1_000_000;

/// Accepts any row count from 1 to [`MAX_ROWS`]: the offered sizes and anything a
/// script may ask for in between.
pub fn validate_rows(rows: u64) -> Result<u64, StayputError> {
    if (1..=MAX_ROWS).contains(&rows) {
        Ok(rows)
    } else {
        Err(StayputError::InvalidSize(rows.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offered_sizes_are_valid_and_the_edges_are_not() {
        for n in OFFERED {
            assert_eq!(validate_rows(n), Ok(n));
        }
        assert!(matches!(validate_rows(0), Err(StayputError::InvalidSize(_))));
        assert!(matches!(
            validate_rows(MAX_ROWS + 1),
            Err(StayputError::InvalidSize(_))
        ));
    }
}
