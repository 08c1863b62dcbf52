//! gzip'd uploads (`.csv.gz`, `.tsv.gz`, any format inside): unpacked as the bytes
//! arrive, a few KiB at a time, so that what reaches the disk is counted against the
//! limits as it is made and a gzip bomb is refused the moment it passes
//! [`MAX_GZIP_RATIO`], with only what was unpacked so far to delete.

use std::io::Write;

use flate2::write::MultiGzDecoder;

use super::IngestError;

/// The first two bytes of every gzip member.
pub(super) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Most times a gzip'd upload may unpack to its own size (beyond the first
/// [`GZIP_SLACK`] bytes). Real CSV and TSV unpack to 3–20× (vega-datasets' files: 3–6×);
/// deflate's own limit is about 1,032×, which only a file of one repeated byte nears.
pub const MAX_GZIP_RATIO: u64 = 100;

/// Bytes any gzip'd upload may unpack to whatever its ratio, so a small file of a few
/// repeated values is not refused for it.
pub const GZIP_SLACK: u64 = 1 << 20;

/// Compressed bytes given to the decoder at a time: the most one step unpacks is about
/// 1,032 times this (4 MiB), before the ratio is checked again.
const STEP: usize = 4 << 10;

/// A gzip stream being unpacked.
pub(super) struct Gunzip {
    decoder: MultiGzDecoder<Vec<u8>>,
    /// Compressed bytes given to the decoder.
    fed: u64,
    /// Bytes it unpacked.
    unpacked: u64,
}

impl Gunzip {
    pub(super) fn new() -> Self {
        Self {
            decoder: MultiGzDecoder::new(Vec::with_capacity(64 << 10)),
            fed: 0,
            unpacked: 0,
        }
    }

    /// Unpacks `compressed`, handing `out` what it makes a step at a time; refused once
    /// the stream unpacks to more than [`MAX_GZIP_RATIO`] times what it was fed (beyond
    /// [`GZIP_SLACK`]), or is not valid gzip.
    pub(super) fn unpack(
        &mut self,
        compressed: &[u8],
        out: &mut dyn FnMut(&[u8]) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        for step in compressed.chunks(STEP) {
            self.decoder.write_all(step).map_err(damaged)?;
            self.fed += step.len() as u64;
            self.hand_over(out)?;
        }
        Ok(())
    }

    /// The stream is complete: unpacks what the decoder still holds. A stream cut short
    /// (its last member without its end) or whose checksum does not match is refused.
    pub(super) fn finish(
        &mut self,
        out: &mut dyn FnMut(&[u8]) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        self.decoder.try_finish().map_err(damaged)?;
        self.hand_over(out)
    }

    fn hand_over(
        &mut self,
        out: &mut dyn FnMut(&[u8]) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        let made = self.decoder.get_mut();
        if made.is_empty() {
            return Ok(());
        }
        self.unpacked += made.len() as u64;
        let cap = self.fed.saturating_mul(MAX_GZIP_RATIO).saturating_add(GZIP_SLACK);
        if self.unpacked > cap {
            return Err(IngestError::Inflates { max: MAX_GZIP_RATIO });
        }
        out(made)?;
        made.clear();
        Ok(())
    }
}

/// The decoder's error as the user's: a stream that stops inside its data is cut short;
/// anything else (bad blocks, a checksum or length at its end that does not match, which
/// is also what a stream cut inside its last 8 bytes shows) is damaged.
fn damaged(err: std::io::Error) -> IngestError {
    match err.kind() {
        std::io::ErrorKind::UnexpectedEof => IngestError::Truncated("gzip"),
        _ => IngestError::Damaged {
            format: "gzip",
            reason: "its data or its checksum does not check out (damaged, or cut short)".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).expect("gzip");
        encoder.finish().expect("gzip")
    }

    /// Unpacks `stream` sent in chunks of `chunk`: what came out, or why not.
    fn unpack_all(stream: &[u8], chunk: usize) -> Result<Vec<u8>, IngestError> {
        let mut out = Vec::new();
        let mut gz = Gunzip::new();
        for part in stream.chunks(chunk.max(1)) {
            gz.unpack(part, &mut |b| {
                out.extend_from_slice(b);
                Ok(())
            })?;
            let cap = gz.fed * MAX_GZIP_RATIO + GZIP_SLACK;
            assert!(out.len() as u64 <= cap, "{} past the cap {cap}", out.len());
        }
        gz.finish(&mut |b| {
            out.extend_from_slice(b);
            Ok(())
        })?;
        Ok(out)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any text, any chunking: the same bytes back.
        #[test]
        fn what_goes_in_comes_out(text in proptest::collection::vec(any::<u8>(), 0..4096), chunk in 1usize..600) {
            prop_assert_eq!(unpack_all(&gzip(&text), chunk)?, text);
        }

        /// A stream with bytes changed, cut or appended: refused or unpacked, never a
        /// panic, never past the ratio.
        #[test]
        fn a_mangled_stream_is_refused_or_read_within_the_cap(
            text in proptest::collection::vec(any::<u8>(), 1..2048),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
            cut in any::<prop::sample::Index>(),
            tail in proptest::collection::vec(any::<u8>(), 0..16),
            chunk in 1usize..300,
        ) {
            let mut stream = gzip(&text);
            for (at, byte) in flips {
                let i = at.index(stream.len());
                stream[i] ^= byte;
            }
            stream.truncate(cut.index(stream.len()) + 1);
            stream.extend(tail);
            let _ = unpack_all(&stream, chunk);
        }
    }

    #[test]
    fn a_bomb_stops_at_the_cap_whatever_the_chunks() {
        let bomb = gzip(&vec![b'0'; 64 << 20]);
        for chunk in [1, 100, 64 << 10] {
            assert_eq!(
                unpack_all(&bomb, chunk),
                Err(IngestError::Inflates { max: MAX_GZIP_RATIO })
            );
        }
    }
}
