//! The one xz decoder (liblzma): streaming, so output comes as it is decoded whatever the
//! block size (a decoder that holds a whole block lets a small `.xz` fill memory before any
//! bound on its output sees a byte), with the decoder's own memory capped.

use std::io::BufRead;

/// Memory an xz decoder may use (dictionary and state): enough for `xz -9` (a 64 MiB
/// dictionary; Debian's indexes use `-6`, 8 MiB, and rpm-md's metadata no more). A stream
/// asking for more fails with liblzma's memory-limit error instead of being allocated.
pub const MEMORY_LIMIT: u64 = 80 << 20;

/// A reader of the decompressed content of `input` (one or more concatenated xz streams).
///
/// Errors (when read): the data is not xz or is corrupt, or needs more than
/// [`MEMORY_LIMIT`] to decode.
pub fn decoder<R: BufRead>(input: R) -> std::io::Result<liblzma::bufread::XzDecoder<R>> {
    let stream =
        liblzma::stream::Stream::new_stream_decoder(MEMORY_LIMIT, liblzma::stream::CONCATENATED)?;
    Ok(liblzma::bufread::XzDecoder::new_stream(input, stream))
}
