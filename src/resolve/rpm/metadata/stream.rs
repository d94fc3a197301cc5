//! Metadata files read as a stream: the decompressor for a file name's suffix (gzip,
//! bzip2, xz, zstd, else none) behind a reader that fails once more than repomd's
//! `open-size` has come out, and [`parse_piped`], which decompresses on a second thread
//! while the caller's parser reads, so the decompressed document is never held whole.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;

/// Bytes handed from the decompressing thread to the parser at a time.
const CHUNK: usize = 64 << 10;
/// Chunks in flight between the two threads (at most this many wait for the parser).
const IN_FLIGHT: usize = 4;

fn too_big(limit: u64) -> std::io::Error {
    std::io::Error::other(format!(
        "it decompresses to more than {limit} bytes (repomd.xml's open-size)"
    ))
}

/// A reader that fails once more than `limit` bytes have come out of `inner`; `what` (the
/// compression, or empty) prefixes the inner reader's errors.
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
    what: &'static str,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| match self.what {
            "" => e,
            what => std::io::Error::other(format!("{what}: {e}")),
        })?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(too_big(self.limit));
        }
        Ok(n)
    }
}

/// The decompressed content of `bytes`, by `name`'s suffix (`.gz`, `.bz2`, `.xz`, `.zst`,
/// else as is), as a reader that fails past `limit` bytes. Errors: a zstd frame header
/// that does not parse, or (xz, decoded here whole) any decoding error.
pub fn open<'a>(
    name: &str,
    bytes: &'a [u8],
    limit: u64,
) -> Result<Box<dyn BufRead + Send + 'a>, String> {
    fn bounded<'a, R: Read + Send + 'a>(
        inner: R,
        limit: u64,
        what: &'static str,
    ) -> Box<dyn BufRead + Send + 'a> {
        Box::new(BufReader::with_capacity(
            CHUNK,
            Bounded {
                inner,
                read: 0,
                limit,
                what,
            },
        ))
    }
    Ok(if name.ends_with(".gz") {
        bounded(flate2::bufread::MultiGzDecoder::new(bytes), limit, "gzip")
    } else if name.ends_with(".bz2") {
        bounded(bzip2::bufread::BzDecoder::new(bytes), limit, "bzip2")
    } else if name.ends_with(".xz") {
        let decoder = crate::xz::decoder(bytes).map_err(|e| format!("xz: {e}"))?;
        bounded(decoder, limit, "xz")
    } else if name.ends_with(".zst") {
        let decoder =
            ruzstd::decoding::StreamingDecoder::new(bytes).map_err(|e| format!("zstd: {e}"))?;
        bounded(decoder, limit, "zstd")
    } else {
        bounded(bytes, limit, "")
    })
}

/// Runs `parse` over the decompressed content of `bytes` (as [`open`]), decompressing on a
/// second thread in [`CHUNK`]-byte pieces while `parse` reads. A decompression error
/// reaches `parse` as a read error; when `parse` returns early the decompression stops.
pub fn parse_piped<T>(
    name: &str,
    bytes: &[u8],
    limit: u64,
    parse: impl FnOnce(&mut dyn BufRead) -> Result<T, String>,
) -> Result<T, String> {
    let source = open(name, bytes, limit)?;
    std::thread::scope(|scope| {
        let (full, full_rx) = mpsc::sync_channel::<std::io::Result<Vec<u8>>>(IN_FLIGHT);
        let (empty, empty_rx) = mpsc::channel::<Vec<u8>>();
        scope.spawn(move || decompress_into(source, full, empty_rx));
        let mut piped = Piped {
            full: full_rx,
            empty,
            chunk: Vec::new(),
            at: 0,
        };
        parse(&mut piped)
    })
}

/// The decompressing side: fills chunks (reused once the parser has read them) and sends
/// them until the end, an error, or the parser has gone.
fn decompress_into(
    mut source: Box<dyn BufRead + Send + '_>,
    full: mpsc::SyncSender<std::io::Result<Vec<u8>>>,
    empty: mpsc::Receiver<Vec<u8>>,
) {
    loop {
        let mut chunk = empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        chunk.clear();
        let mut end = false;
        while chunk.len() < CHUNK {
            match source.fill_buf() {
                Ok([]) => {
                    end = true;
                    break;
                }
                Ok(available) => {
                    let n = available.len().min(CHUNK - chunk.len());
                    chunk.extend_from_slice(&available[..n]);
                    source.consume(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = full.send(Err(e));
                    return;
                }
            }
        }
        if !chunk.is_empty() && full.send(Ok(chunk)).is_err() {
            return;
        }
        if end {
            return;
        }
    }
}

/// The parsing side: the chunks as one `BufRead`; the sender hanging up is the end.
struct Piped {
    full: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    empty: mpsc::Sender<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl BufRead for Piped {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.at >= self.chunk.len() {
            self.at = 0;
            match self.full.recv() {
                Ok(Ok(next)) => {
                    let read = std::mem::replace(&mut self.chunk, next);
                    let _ = self.empty.send(read);
                }
                Ok(Err(e)) => {
                    self.chunk.clear();
                    return Err(e);
                }
                Err(mpsc::RecvError) => self.chunk.clear(),
            }
        }
        Ok(&self.chunk[self.at..])
    }

    fn consume(&mut self, n: usize) {
        self.at = (self.at + n).min(self.chunk.len());
    }
}

impl Read for Piped {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_piped_parse_reads_everything_and_sees_errors() {
        let text: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let read = parse_piped("p.gz", &gz, 1 << 30, |r| {
            let mut out = Vec::new();
            r.read_to_end(&mut out).map_err(|e| e.to_string())?;
            Ok(out)
        })
        .unwrap();
        assert_eq!(read, text);
        let error = parse_piped("p.gz", &gz, 1000, |r| {
            r.read_to_end(&mut Vec::new()).map_err(|e| e.to_string())
        })
        .unwrap_err();
        assert!(error.contains("more than 1000 bytes"), "{error}");
        let error = parse_piped("p.gz", &gz[..gz.len() / 2], 1 << 30, |r| {
            r.read_to_end(&mut Vec::new()).map_err(|e| e.to_string())
        })
        .unwrap_err();
        assert!(error.contains("gzip"), "{error}");
        // A parser that stops early ends the decompression too.
        let first = parse_piped("p.gz", &gz, 1 << 30, |r| {
            Ok(r.fill_buf().map_err(|e| e.to_string())?[0])
        })
        .unwrap();
        assert_eq!(first, text[0]);
    }
}
