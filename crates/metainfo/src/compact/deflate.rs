//! Body codec 1: the tagged-tree body, compressed with raw DEFLATE
//! (RFC 1951, no zlib or gzip wrapper).
//!
//! The writer compresses with `miniz_oxide` at [`DEFLATE_LEVEL`]; the reader
//! inflates into a buffer that never grows past the caller's output limit,
//! so a small file cannot make it allocate more than that (a decompression
//! bomb is refused with [`CompactError::CompressedBodyTooLarge`]).
//!
//! See the module documentation of [`crate::compact`] for the byte layout.

use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use super::CompactError;

/// The DEFLATE compression level the writer uses for codec 1: 9, the best
/// level of the zlib scale (miniz's level 10 gained nothing on the measured
/// torrents). Pinned, so that the same torrent and header always give the
/// same `.btl` bytes with the `miniz_oxide` version in `Cargo.lock`; the
/// golden vectors fail if a dependency update changes the output.
pub const DEFLATE_LEVEL: u8 = 9;

/// The first output buffer, before it doubles (bounded by the limit).
const FIRST_BUFFER: usize = 16 << 10;

/// Compresses a tagged-tree body with raw DEFLATE at [`DEFLATE_LEVEL`].
pub(crate) fn compress(body: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(body, DEFLATE_LEVEL)
}

/// Inflates a raw DEFLATE stream that must span the whole of `input` and
/// inflate to at most `max` bytes.
///
/// `base` is the offset of `input[0]` in the `.btl` file, for error
/// messages. The output buffer starts small and doubles, never beyond
/// `max`: memory stays within `max` plus the decompressor's fixed state
/// whatever the input claims.
pub(crate) fn inflate(input: &[u8], base: usize, max: usize) -> Result<Vec<u8>, CompactError> {
    // No TINFL_FLAG_HAS_MORE_INPUT: all input is here, so running out of it
    // is reported as such. The output buffer holds everything inflated so
    // far, which is the window that back-references read from.
    let flags = TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let mut state = Box::<DecompressorOxide>::default();
    let mut out = vec![0u8; input.len().saturating_mul(4).max(FIRST_BUFFER).min(max)];
    let mut in_pos = 0usize;
    let mut out_pos = 0usize;
    loop {
        let rest = input.get(in_pos..).ok_or(CompactError::BadCompressedBody)?;
        let (status, used, written) = decompress(&mut state, rest, &mut out, out_pos, flags);
        in_pos = in_pos.saturating_add(used);
        out_pos = out_pos.saturating_add(written);
        match status {
            TINFLStatus::Done => {
                // The stream must end exactly where the checksum starts:
                // bytes after it would be a second encoding of one file.
                if in_pos != input.len() {
                    return Err(CompactError::TrailingData {
                        at: base.saturating_add(in_pos),
                    });
                }
                out.truncate(out_pos);
                return Ok(out);
            }
            TINFLStatus::HasMoreOutput => {
                if out.len() >= max {
                    return Err(CompactError::CompressedBodyTooLarge { max });
                }
                let grown = out.len().saturating_mul(2).max(FIRST_BUFFER).min(max);
                out.resize(grown, 0);
            }
            TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
                return Err(CompactError::Truncated {
                    what: "compressed body",
                });
            }
            _ => return Err(CompactError::BadCompressedBody),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let packed = compress(&body);
        assert!(packed.len() < body.len() / 10);
        assert_eq!(inflate(&packed, 0, body.len()), Ok(body.clone()));
        assert_eq!(
            inflate(&packed, 0, body.len() - 1),
            Err(CompactError::CompressedBodyTooLarge {
                max: body.len() - 1
            })
        );
        assert_eq!(
            inflate(&packed, 0, 0),
            Err(CompactError::CompressedBodyTooLarge { max: 0 })
        );
        // An empty body inflates within a zero limit.
        assert_eq!(inflate(&compress(b""), 0, 0), Ok(Vec::new()));
        assert_eq!(
            inflate(b"", 0, 10),
            Err(CompactError::Truncated {
                what: "compressed body"
            })
        );
        let mut trailing = packed.clone();
        trailing.push(0);
        assert_eq!(
            inflate(&trailing, 5, body.len()),
            Err(CompactError::TrailingData {
                at: 5 + packed.len()
            })
        );
    }

    #[test]
    fn deterministic() {
        let body = b"the same body gives the same bytes, the same body".repeat(50);
        assert_eq!(compress(&body), compress(&body));
    }
}
