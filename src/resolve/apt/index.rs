//! The `Packages` indexes of a source, read into a [`UniverseBuilder`] without holding them:
//! each index is fetched (verified against the signed Release), decompressed once into the
//! cache (streamed, bounded by [`MAX_INDEX_BYTES`]), then read line by line; each paragraph
//! is checked as a package (the errors an index with a bad package gets are the ones it got
//! when every package was kept) and only its compact index entry stays in memory. The
//! decompressed file stays open, and a package is read back from its offset
//! ([`IndexFiles`], a [`PackageSource`]) when the closure reaches it.

use super::{apt_http, cache_error, http_error, index_error};
use crate::checksum::{Algorithm, Expected};
use crate::debian::control::{self, ControlError, Keep};
use crate::debian::index::{Location, Locator};
use crate::debian::release::{IndexEntry, Release as ReleaseFile};
use crate::debian::sources::AptSource;
use crate::debian::universe::{Package, PackageError, PackageSource, UniverseBuilder};
use crate::digest::Digest;
use crate::resolve::error::ResolveError;
use crate::store::{Store, StoreError};
use crate::upstream::http::Http;
use futures::StreamExt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The most a decompressed `Packages` index may hold, in bytes (Debian's main archive is
/// ~50 MB for one architecture): a bigger one is refused as hostile.
pub const MAX_INDEX_BYTES: u64 = 1 << 30;

/// The most one paragraph (one package) of an index may hold, in bytes (the largest real
/// ones are tens of KiB).
pub const MAX_PARAGRAPH_BYTES: usize = 1 << 20;

/// The decompressed indexes a universe reads its packages back from, numbered as
/// [`Location::text`] numbers them.
#[derive(Default)]
pub(super) struct IndexFiles {
    files: Vec<IndexFile>,
}

struct IndexFile {
    file: File,
    path: PathBuf,
    /// `URI suite` of the source (the lockfile's `source`).
    origin: String,
}

impl IndexFiles {
    pub(super) fn len(&self) -> usize {
        self.files.len()
    }

    /// Forgets the files registered after the first `len` (a source that failed halfway).
    pub(super) fn truncate(&mut self, len: usize) {
        self.files.truncate(len);
    }
}

impl PackageSource for IndexFiles {
    fn load(&self, at: &Location) -> Result<Package, String> {
        let index = self
            .files
            .get(at.text as usize)
            .ok_or_else(|| format!("no index number {} was read", at.text))?;
        let whence = || {
            format!(
                "the paragraph at line {} of {}",
                at.line,
                index.path.display()
            )
        };
        let mut bytes = vec![0; at.len as usize];
        index
            .file
            .read_exact_at(&mut bytes, at.offset)
            .map_err(|e| format!("reading {}: {e}", whence()))?;
        let mut package = parse_package(&bytes, at.line, kept_field)
            .map_err(|e| format!("reading {}: {e}", whence()))?;
        package.origin = index.origin.clone();
        Ok(package)
    }
}

/// Why a paragraph is not a package: its format, or a field of it.
#[derive(Debug, thiserror::Error)]
enum ParagraphError {
    #[error(transparent)]
    Format(#[from] ControlError),
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error("not one paragraph")]
    NotOne,
}

/// The package in one located paragraph (its bytes, starting at line `line`), with the fields
/// `keep` asks for.
fn parse_package(
    bytes: &[u8],
    line: u32,
    keep: fn(&str) -> Keep,
) -> Result<Package, ParagraphError> {
    let text = String::from_utf8_lossy(bytes);
    let mut found = None;
    control::parse_each_from(&text, line as usize, keep, |paragraph| {
        if found.is_some() {
            return Err(ParagraphError::NotOne);
        }
        found = Some(Package::from_paragraph(paragraph)?);
        Ok(())
    })?;
    found.ok_or(ParagraphError::NotOne)
}

/// The `Packages` index a Release lists in `dir` (`main/binary-amd64/`, or `""` in a flat
/// repository): xz first, then gz, then uncompressed.
fn index_entry<'a>(release: &'a ReleaseFile, dir: &str) -> Option<&'a IndexEntry> {
    ["Packages.xz", "Packages.gz", "Packages"]
        .iter()
        .find_map(|name| release.entry(&format!("{dir}{name}")))
}

/// Adds every package of `arch` (and `all`) a source's indexes list to `universe`, the
/// indexes read to `files`. On an error, part of the source may have been added: the caller
/// truncates both to what they held before.
pub(super) async fn read_source_packages(
    http: &Http,
    store: &Store,
    source: &AptSource,
    release: &ReleaseFile,
    arch: &str,
    universe: &mut UniverseBuilder,
    files: &mut IndexFiles,
) -> Result<(), ResolveError> {
    for dir in source.index_dirs(arch) {
        // A component without this architecture has no index: nothing from it.
        if let Some(entry) = index_entry(release, &dir) {
            read_packages(http, store, source, release, &dir, entry, universe, files).await?;
        }
    }
    Ok(())
}

/// Downloads (or finds in the cache) one Packages index and indexes its packages.
#[allow(clippy::too_many_arguments)]
async fn read_packages(
    http: &Http,
    store: &Store,
    source: &AptSource,
    release: &ReleaseFile,
    dir: &str,
    entry: &IndexEntry,
    universe: &mut UniverseBuilder,
    files: &mut IndexFiles,
) -> Result<(), ResolveError> {
    let url = if release.acquire_by_hash {
        source.meta_url(&format!("{dir}by-hash/SHA256/{}", entry.sha256))
    } else {
        source.meta_url(&entry.path)
    };
    let digest = Digest::from_hex(&entry.sha256).map_err(|e| index_error(&url, e))?;
    if !store.has(&digest, entry.size) {
        let mut download = store.begin_download().map_err(cache_error(&url))?;
        let mut stream = http.stream(&url, 0).await.map_err(apt_http)?.stream;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => download.write(&chunk).map_err(cache_error(&url))?,
                Err(e) => {
                    download.discard();
                    return Err(http_error(&url, format!("download interrupted: {e}")));
                }
            }
        }
        let expected = Expected {
            algorithm: Algorithm::Sha256,
            hex: entry.sha256.clone(),
        };
        download
            .finish(Some(&expected))
            .map_err(|e| match e {
                StoreError::Io { .. } => cache_error(&url)(e),
                mismatch => index_error(&url, format!("{mismatch}: the index does not match the signed Release (tampered or a half-updated mirror)")),
            })?;
    }
    // Decompressing a large index costs seconds; the result is kept beside the cache,
    // named by the digest of the verified compressed index it came from, and read from there.
    let derived = store
        .root()
        .join("derived")
        .join(format!("{}.Packages", digest.hex()));
    let file = match File::open(&derived) {
        Ok(file) => file,
        Err(_) => {
            decompress(
                &store.blob_path(&digest),
                &entry.path,
                &derived,
                &url,
                MAX_INDEX_BYTES,
            )?;
            File::open(&derived).map_err(cache_io(&url, &derived))?
        }
    };
    let size = file.metadata().map_err(cache_io(&url, &derived))?.len();
    if size > MAX_INDEX_BYTES {
        return Err(index_error(&url, too_big(MAX_INDEX_BYTES)));
    }
    let number = u32::try_from(files.len()).map_err(|_| index_error(&url, "too many indexes"))?;
    index_text(&file, number, universe).map_err(|e| match e {
        IndexFailure::Paragraph(e) => index_error(&url, e),
        IndexFailure::Io(e) => cache_io(&url, &derived)(e),
    })?;
    files.files.push(IndexFile {
        file,
        path: derived,
        origin: format!("{} {}", source.uri, source.suite),
    });
    Ok(())
}

/// Why an index could not be read: a paragraph of it, or the file.
enum IndexFailure {
    Paragraph(ParagraphError),
    Io(std::io::Error),
}

impl From<ControlError> for IndexFailure {
    fn from(e: ControlError) -> Self {
        IndexFailure::Paragraph(ParagraphError::Format(e))
    }
}

/// Reads an index text line by line, checking each paragraph as a package and adding it to
/// `universe` as text number `number`. At most [`MAX_PARAGRAPH_BYTES`] of it are held.
fn index_text(
    file: &File,
    number: u32,
    universe: &mut UniverseBuilder,
) -> Result<(), IndexFailure> {
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut locator = Locator::new(number, MAX_PARAGRAPH_BYTES);
    let mut line = Vec::new();
    let mut line_number = 0usize;
    let mut add = |at: Location, bytes: &[u8]| {
        let package =
            parse_package(bytes, at.line, checked_field).map_err(IndexFailure::Paragraph)?;
        universe.add(&package, at);
        Ok::<(), IndexFailure>(())
    };
    loop {
        line.clear();
        let limit = MAX_PARAGRAPH_BYTES as u64 + 1;
        let read = (&mut reader)
            .take(limit)
            .read_until(b'\n', &mut line)
            .map_err(IndexFailure::Io)?;
        if read == 0 {
            break;
        }
        line_number += 1;
        if line.len() > MAX_PARAGRAPH_BYTES {
            let paragraph = locator.paragraph_start().unwrap_or(line_number);
            return Err(ControlError::TooLong(paragraph, MAX_PARAGRAPH_BYTES).into());
        }
        locator.line(&line, &mut add)?;
    }
    locator.finish(add)
}

/// Decompresses the verified index at `blob` (named `name` in the Release: `.xz`, `.gz` or
/// plain) into `derived`, streaming, through a temp file renamed into place; more than `max`
/// bytes is an index error (a decompression bomb).
fn decompress(
    blob: &Path,
    name: &str,
    derived: &Path,
    url: &str,
    max: u64,
) -> Result<(), ResolveError> {
    let io = cache_io(url, derived);
    if let Some(parent) = derived.parent() {
        std::fs::create_dir_all(parent).map_err(cache_io(url, parent))?;
    }
    let compressed = File::open(blob).map_err(cache_io(url, blob))?;
    let mut input = BufReader::with_capacity(1 << 16, compressed);
    let temp = crate::fsutil::temp_path_for(derived);
    let result = (|| {
        let file = File::create_new(&temp).map_err(cache_io(url, &temp))?;
        let mut output = Bounded {
            inner: std::io::BufWriter::with_capacity(1 << 16, file),
            written: 0,
            max,
            failed: None,
        };
        let decoded = if name.ends_with(".xz") {
            crate::xz::decoder(input)
                .and_then(|mut decoder| std::io::copy(&mut decoder, &mut output).map(|_| ()))
        } else if name.ends_with(".gz") {
            std::io::copy(
                &mut flate2::bufread::MultiGzDecoder::new(input),
                &mut output,
            )
            .map(|_| ())
        } else {
            std::io::copy(&mut input, &mut output).map(|_| ())
        };
        decoded.map_err(|e| match output.failed {
            Some(std::io::ErrorKind::FileTooLarge) => index_error(url, too_big(max)),
            Some(_) => cache_io(url, &temp)(e),
            None if name.ends_with(".xz") => index_error(url, format!("xz: {e}")),
            None if name.ends_with(".gz") => index_error(url, format!("gzip: {e}")),
            None => cache_io(url, blob)(e),
        })?;
        let file = output
            .inner
            .into_inner()
            .map_err(|e| cache_io(url, &temp)(e.into_error()))?;
        file.sync_all().map_err(cache_io(url, &temp))?;
        std::fs::rename(&temp, derived).map_err(io)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// A writer refusing to hold more than `max` bytes (a decompression bomb), which
/// remembers whether a write failed (the cache's fault, or the bound's) rather than a read.
struct Bounded<W> {
    inner: W,
    written: u64,
    max: u64,
    failed: Option<std::io::ErrorKind>,
}

impl<W: Write> Write for Bounded<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written + buf.len() as u64 > self.max {
            self.failed = Some(std::io::ErrorKind::FileTooLarge);
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                too_big(self.max),
            ));
        }
        let n = self
            .inner
            .write(buf)
            .inspect_err(|e| self.failed = Some(e.kind()))?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner
            .flush()
            .inspect_err(|e| self.failed = Some(e.kind()))
    }
}

fn too_big(max: u64) -> String {
    format!("decompresses to more than {max} bytes (refused as hostile)")
}

fn cache_io<'a>(url: &'a str, path: &'a Path) -> impl Fn(std::io::Error) -> ResolveError + 'a {
    move |source| {
        cache_error(url)(StoreError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// What is checked of every paragraph while indexing: the fields
/// [`Package::from_paragraph`] reads.
fn checked_field(name: &str) -> Keep {
    const CHECKED: [&str; 12] = [
        "Package",
        "Version",
        "Architecture",
        "Multi-Arch",
        "Essential",
        "Priority",
        "Provides",
        "Pre-Depends",
        "Depends",
        "Recommends",
        "Conflicts",
        "Breaks",
    ];
    if CHECKED.iter().any(|f| name.eq_ignore_ascii_case(f)) {
        Keep::Whole
    } else {
        Keep::Drop
    }
}

/// What is kept of a `Packages` field in a package read back: [`CONTROL_FIELDS`], where the
/// file is and its size and SHA256, and the synopsis of the description.
fn kept_field(name: &str) -> Keep {
    let is = |field: &str| name.eq_ignore_ascii_case(field);
    if is("Description") {
        Keep::FirstLine
    } else if CONTROL_FIELDS.iter().any(|f| is(f)) || is("Filename") || is("Size") || is("SHA256") {
        Keep::Whole
    } else {
        Keep::Drop
    }
}

/// Control fields carried into the generated repository's Packages files.
pub(super) const CONTROL_FIELDS: [&str; 19] = [
    "Package",
    "Source",
    "Version",
    "Installed-Size",
    "Maintainer",
    "Architecture",
    "Multi-Arch",
    "Essential",
    "Priority",
    "Section",
    "Replaces",
    "Provides",
    "Pre-Depends",
    "Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Enhances",
];

#[cfg(test)]
mod tests;
