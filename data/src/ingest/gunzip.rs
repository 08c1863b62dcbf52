//! gzip'd uploads (`.csv.gz`, `.tsv.gz`, any format inside): unpacked as the bytes
//! arrive, at most 32 KiB of output at a time, so that what reaches the disk is counted against the
//! limits as it is made and a gzip bomb is refused the moment it passes
//! [`MAX_GZIP_RATIO`], with only what was unpacked so far to delete.

use std::io::Write;

use flate2::write::GzDecoder;

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

/// Gzip members one after another are one file (as `cat a.gz b.gz` and bgzip make), but
/// each costs a decoder of its own: at most 16, and one more for each KiB that arrived
/// (bgzip's are 64 KiB of text each). A stream of empty members is refused, not decoded
/// 50 to the KiB.
const MEMBER_EVERY: u64 = 1 << 10;
const MEMBERS_FREE: u64 = 16;

/// A gzip stream being unpacked, one member at a time.
pub(super) struct Gunzip {
    /// The member being unpacked. Each call of its `write` hands its sink at most its
    /// own buffer's worth (32 KiB), which [`Gunzip::hand_over`] takes at once: what a
    /// stream unpacks is never gathered in memory.
    decoder: GzDecoder<Vec<u8>>,
    /// Whether the member has been fed nothing yet.
    fresh: bool,
    /// Compressed bytes the decoders took.
    fed: u64,
    /// Bytes they unpacked.
    unpacked: u64,
    /// Members begun.
    members: u64,
}

/// What a decoder hands over at a time, at most (its buffer is 32 KiB).
const SINK: usize = 64 << 10;

impl Gunzip {
    pub(super) fn new() -> Self {
        Self {
            decoder: GzDecoder::new(Vec::with_capacity(SINK)),
            fresh: true,
            fed: 0,
            unpacked: 0,
            members: 1,
        }
    }

    /// Unpacks `compressed`, handing `out` what it makes as it is made; refused once
    /// the stream unpacks to more than [`MAX_GZIP_RATIO`] times what it was fed (beyond
    /// [`GZIP_SLACK`]), holds more members than its size allows, or is not valid gzip.
    pub(super) fn unpack(
        &mut self,
        compressed: &[u8],
        out: &mut dyn FnMut(&[u8]) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        let mut rest = compressed;
        while !rest.is_empty() {
            let taken = self.decoder.write(rest).map_err(damaged)?;
            if taken == 0 {
                // The member is complete; what follows is the next one.
                if self.fresh {
                    return Err(damaged(std::io::ErrorKind::InvalidData.into()));
                }
                self.next_member(out)?;
                continue;
            }
            self.fresh = false;
            self.fed += taken as u64;
            rest = &rest[taken..];
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

    fn next_member(
        &mut self,
        out: &mut dyn FnMut(&[u8]) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        self.finish(out)?;
        self.members += 1;
        if self.members > MEMBERS_FREE + self.fed / MEMBER_EVERY {
            return Err(IngestError::Damaged {
                format: "gzip",
                reason: format!("it holds more members than its size allows ({MEMBERS_FREE}, and one a KiB)"),
            });
        }
        self.decoder = GzDecoder::new(Vec::with_capacity(SINK));
        self.fresh = true;
        Ok(())
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
        made.shrink_to(SINK);
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
    fn a_flood_of_empty_members_is_refused_and_output_comes_in_small_pieces() {
        let empty = gzip(b"");
        let flood: Vec<u8> = std::iter::repeat_n(empty.as_slice(), 10_000)
            .flatten()
            .copied()
            .collect();
        let refused = unpack_all(&flood, 64 << 10);
        assert!(
            matches!(&refused, Err(IngestError::Damaged { reason, .. }) if reason.contains("members")),
            "{refused:?}"
        );
        // bgzip-like: a member per 20 KiB of text is fine.
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("{i},{}\n", i % 7).into_bytes())
            .collect();
        let members: Vec<u8> = text.chunks(20 << 10).flat_map(gzip).collect();
        assert_eq!(unpack_all(&members, 64 << 10).expect("members"), text);
        // What the decoder hands over at a time stays small, however dense the input.
        let dense = gzip(&vec![b'0'; 8 << 20]);
        let mut gz = Gunzip::new();
        let mut largest = 0;
        let _ = gz.unpack(&dense, &mut |b| {
            largest = largest.max(b.len());
            Ok(())
        });
        assert!(largest > 0 && largest <= SINK, "{largest}");
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
