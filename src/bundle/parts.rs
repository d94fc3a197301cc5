//! Bundles split into parts (`NAME.tar.001 …` + `NAME.parts.json`) and read as one file.
//!
//! A bundle travels whole (`NAME.tar`) or cut into fixed-size parts for FAT32 sticks. The
//! parts are plain byte ranges of the whole tar, so `cat NAME.tar.*` (or `outpost bundle
//! join`) gives the unsplit bytes. [`BundleFile`] opens either form and reads it in place:
//! positioned reads for serving, a sequential reader for verify/load, and a seekable reader for
//! indexing. Every command that takes a bundle accepts the tar, the `.parts.json` or any part.

use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Version of the `parts.json` format.
pub const PARTS_FORMAT: u32 = 1;
/// The largest file FAT32 holds (4 GiB - 1 byte); `--split-size fat32`.
pub const FAT32_MAX: u64 = (4 << 30) - 1;

#[derive(Debug, thiserror::Error)]
pub enum PartsError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid parts list: {message}")]
    BadList { path: PathBuf, message: String },
    #[error("part {number} of {count} ({path}) is missing; copy it next to {list}")]
    Missing {
        number: usize,
        count: usize,
        path: PathBuf,
        list: PathBuf,
    },
    #[error("part {number} of {count} ({path}): {actual} bytes, {list} says {expected}; the copy is incomplete or damaged")]
    Size {
        number: usize,
        count: usize,
        path: PathBuf,
        list: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("part {number} of {count} ({path}): sha256 mismatch (expected {expected}, got {actual}); copy this part again")]
    Damaged {
        number: usize,
        count: usize,
        path: PathBuf,
        expected: Digest,
        actual: Digest,
    },
    #[error(
        "{path} is a part of a split bundle but {list} is not beside it; copy the parts list too"
    )]
    NoList { path: PathBuf, list: PathBuf },
}

/// One part as recorded in `NAME.parts.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartInfo {
    /// File name, beside the parts list (`NAME.tar.001`).
    pub name: String,
    pub size: u64,
    pub sha256: Digest,
}

/// `NAME.parts.json`: how the whole tar was cut.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PartsList {
    pub format: u32,
    /// File name of the whole tar (`NAME.tar`), what `join` writes.
    pub bundle: String,
    /// Size of the whole tar.
    pub size: u64,
    /// The bundle's (signed) `index.json` digest.
    pub index_digest: Digest,
    pub part_size: u64,
    pub parts: Vec<PartInfo>,
}

impl PartsList {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// `NAME.tar` → `NAME.parts.json`.
pub fn list_path_for(tar: &Path) -> PathBuf {
    let name = tar
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".tar").unwrap_or(&name);
    tar.with_file_name(format!("{stem}.parts.json"))
}

/// `NAME.tar` → `NAME.tar.NNN` (1-based, at least three digits).
pub fn part_path_for(tar: &Path, number: usize) -> PathBuf {
    let name = tar
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tar.with_file_name(format!("{name}.{number:03}"))
}

/// If `path` names a part (`NAME.tar.007`), the whole tar's path (`NAME.tar`).
fn tar_of_part(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let (base, number) = name.rsplit_once('.')?;
    if number.len() >= 3 && number.bytes().all(|b| b.is_ascii_digit()) && base.ends_with(".tar") {
        Some(path.with_file_name(base))
    } else {
        None
    }
}

/// A file name with no directory part (no `/`, `\\`, leading `.`, or NUL).
fn plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// Reads a parts list, refusing one over 1 MiB (a real one is a few KiB).
fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take((1 << 20) + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > 1 << 20 {
        return Err(std::io::Error::other("larger than 1 MiB: not a parts list"));
    }
    Ok(bytes)
}

/// Parses a size such as `4GiB`, `700MB`, `10MiB`, `512k`, `1000` or `fat32`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("fat32") {
        return Ok(FAT32_MAX);
    }
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (examples: 4GiB, 700MB, fat32)"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "ki" | "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mi" | "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gi" | "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "ti" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}` (use B, kB, KiB, MB, MiB, GB, GiB)"
            ))
        }
    };
    let bytes = (number * factor as f64).floor();
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("`{text}` is not a usable part size"));
    }
    Ok(bytes as u64)
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    file: File,
    start: u64,
    len: u64,
    /// Expected sha256 (from the parts list).
    sha256: Option<Digest>,
}

/// A bundle opened in place: one tar, or every part of a split one, as one byte range.
#[derive(Debug)]
pub struct BundleFile {
    /// What the user named (tar, parts list or part).
    pub path: PathBuf,
    segments: Vec<Segment>,
    len: u64,
    /// The parts list, for a split bundle.
    pub parts: Option<PartsList>,
    pub list_path: Option<PathBuf>,
}

impl BundleFile {
    /// Opens a tar, a `.parts.json`, or any part; every part must be present with its
    /// recorded size (checked here, before anything is read).
    pub fn open(path: &Path) -> Result<BundleFile, PartsError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| PartsError::Io { path: p, source }
        };
        let name = path.to_string_lossy();
        let list_path = if name.ends_with(".parts.json") {
            Some(path.to_path_buf())
        } else if let Some(tar) = tar_of_part(path) {
            let list = list_path_for(&tar);
            if !list.exists() {
                return Err(PartsError::NoList {
                    path: path.to_path_buf(),
                    list,
                });
            }
            Some(list)
        } else if !path.exists() && list_path_for(path).exists() {
            Some(list_path_for(path))
        } else {
            None
        };
        let Some(list_path) = list_path else {
            let file = File::open(path).map_err(io(path))?;
            let len = file.metadata().map_err(io(path))?.len();
            return Ok(BundleFile {
                path: path.to_path_buf(),
                segments: vec![Segment {
                    path: path.to_path_buf(),
                    file,
                    start: 0,
                    len,
                    sha256: None,
                }],
                len,
                parts: None,
                list_path: None,
            });
        };
        let bytes = read_capped(&list_path).map_err(io(&list_path))?;
        let list: PartsList = serde_json::from_slice(&bytes).map_err(|e| PartsError::BadList {
            path: list_path.clone(),
            message: e.to_string(),
        })?;
        let bad = |message: String| PartsError::BadList {
            path: list_path.clone(),
            message,
        };
        if list.format != PARTS_FORMAT {
            return Err(bad(format!(
                "format {} (this outpost reads {PARTS_FORMAT})",
                list.format
            )));
        }
        let total = list
            .parts
            .iter()
            .try_fold(0u64, |sum, p| sum.checked_add(p.size));
        if list.parts.is_empty() || total != Some(list.size) {
            return Err(bad("the part sizes do not add up to the bundle size".into()));
        }
        if !plain_name(&list.bundle) {
            return Err(bad(format!(
                "bundle name `{}` is not a plain file name",
                list.bundle
            )));
        }
        let count = list.parts.len();
        let mut segments = Vec::with_capacity(count);
        let mut start = 0;
        for (i, part) in list.parts.iter().enumerate() {
            if !plain_name(&part.name) {
                return Err(bad(format!(
                    "part name `{}` is not a plain file name",
                    part.name
                )));
            }
            let part_path = list_path.with_file_name(&part.name);
            let file = match File::open(&part_path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(PartsError::Missing {
                        number: i + 1,
                        count,
                        path: part_path,
                        list: list_path.clone(),
                    })
                }
                Err(e) => return Err(io(&part_path)(e)),
            };
            let actual = file.metadata().map_err(io(&part_path))?.len();
            if actual != part.size {
                return Err(PartsError::Size {
                    number: i + 1,
                    count,
                    path: part_path,
                    list: list_path.clone(),
                    expected: part.size,
                    actual,
                });
            }
            segments.push(Segment {
                path: part_path,
                file,
                start,
                len: part.size,
                sha256: Some(part.sha256.clone()),
            });
            start += part.size;
        }
        Ok(BundleFile {
            path: path.to_path_buf(),
            segments,
            len: list.size,
            parts: Some(list),
            list_path: Some(list_path),
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn part_count(&self) -> usize {
        self.segments.len()
    }

    /// Reads exactly `buf.len()` bytes at `position`, across parts.
    pub fn read_exact_at(&self, mut buf: &mut [u8], mut position: u64) -> std::io::Result<()> {
        while !buf.is_empty() {
            let segment = self.segment_at(position).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "read past the end of the bundle",
                )
            })?;
            let within = position - segment.start;
            let n = (segment.len - within).min(buf.len() as u64) as usize;
            segment.file.read_exact_at(&mut buf[..n], within)?;
            buf = &mut buf[n..];
            position += n as u64;
        }
        Ok(())
    }

    fn segment_at(&self, position: u64) -> Option<&Segment> {
        let i = self
            .segments
            .partition_point(|s| s.start + s.len <= position);
        self.segments.get(i).filter(|s| s.len > 0)
    }

    /// The index (0-based) of the part holding `position`.
    pub fn part_index_at(&self, position: u64) -> usize {
        self.segments
            .partition_point(|s| s.start + s.len <= position)
            .min(self.segments.len().saturating_sub(1))
    }

    /// Fails if any part changed length since it was opened (rewritten on disk).
    pub fn check_unchanged(&self) -> std::io::Result<()> {
        for segment in &self.segments {
            let len = segment.file.metadata()?.len();
            if len != segment.len {
                return Err(std::io::Error::other(format!(
                    "{} changed on disk since start ({} -> {len} bytes); restart outpost serve",
                    segment.path.display(),
                    segment.len
                )));
            }
        }
        Ok(())
    }

    /// Identifies this version of the files (inode and modification time of every part).
    pub fn version(&self) -> std::io::Result<u64> {
        use std::hash::{Hash, Hasher};
        use std::os::unix::fs::MetadataExt;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for segment in &self.segments {
            let meta = segment.file.metadata()?;
            (meta.ino(), meta.mtime(), meta.mtime_nsec()).hash(&mut hasher);
        }
        Ok(hasher.finish())
    }

    /// A seekable reader over the whole bundle.
    pub fn reader(&self) -> BundleReader<'_> {
        BundleReader {
            bundle: self,
            position: 0,
            hashing: None,
        }
    }

    /// A sequential reader that also checks each part's sha256 as its last byte passes.
    pub fn checking_reader(&self) -> BundleReader<'_> {
        BundleReader {
            bundle: self,
            position: 0,
            hashing: self.parts.as_ref().map(|_| (0, Sha256::new())),
        }
    }

    /// Hashes part `index` and compares it with the parts list.
    pub fn check_part(&self, index: usize) -> Result<(), PartsError> {
        let Some(segment) = self.segments.get(index) else {
            return Ok(());
        };
        let Some(expected) = &segment.sha256 else {
            return Ok(());
        };
        let mut file = &segment.file;
        let (actual, _) = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| Digest::of_reader(&mut file))
            .map_err(|source| PartsError::Io {
                path: segment.path.clone(),
                source,
            })?;
        if &actual != expected {
            return Err(self.damaged(index, actual));
        }
        Ok(())
    }

    fn damaged(&self, index: usize, actual: Digest) -> PartsError {
        let segment = &self.segments[index];
        PartsError::Damaged {
            number: index + 1,
            count: self.segments.len(),
            path: segment.path.clone(),
            expected: segment.sha256.clone().unwrap_or_else(|| actual.clone()),
            actual,
        }
    }
}

/// Reads a [`BundleFile`] from a position; optionally checks part hashes on the way.
pub struct BundleReader<'a> {
    bundle: &'a BundleFile,
    position: u64,
    /// (part index being hashed, its hasher); only for sequential reads from the start.
    hashing: Option<(usize, Sha256)>,
}

impl Read for BundleReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(segment) = self.bundle.segment_at(self.position) else {
            return Ok(0);
        };
        let within = self.position - segment.start;
        let want = (segment.len - within).min(buf.len() as u64) as usize;
        let n = segment.file.read_at(&mut buf[..want], within)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{} ends early", segment.path.display()),
            ));
        }
        self.position += n as u64;
        if let Some((index, hasher)) = self.hashing.as_mut() {
            hasher.update(&buf[..n]);
            if self.position == segment.start + segment.len {
                let finished = std::mem::replace(hasher, Sha256::new());
                let actual = Digest::from_hasher(finished);
                let current = *index;
                *index += 1;
                if segment.sha256.as_ref() != Some(&actual) {
                    return Err(std::io::Error::other(self.bundle.damaged(current, actual)));
                }
            }
        }
        Ok(n)
    }
}

impl Seek for BundleReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.bundle.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek out of range")
        })?;
        if target != self.position {
            // Part hashes are only checked on a sequential read.
            self.hashing = None;
        }
        self.position = target;
        Ok(target)
    }
}

/// Writes one logical stream into parts of at most `part_size` bytes, hashing each part.
pub struct PartWriter {
    tar: PathBuf,
    part_size: u64,
    current: Option<(File, PathBuf, u64, Sha256)>,
    /// Finished parts: temp path, final path, info.
    done: Vec<(PathBuf, PathBuf, PartInfo)>,
    temp_suffix: String,
}

impl PartWriter {
    pub fn new(tar: &Path, part_size: u64) -> Self {
        PartWriter {
            tar: tar.to_path_buf(),
            part_size,
            current: None,
            done: Vec::new(),
            temp_suffix: format!(".tmp.{}", std::process::id()),
        }
    }

    fn roll(&mut self) -> std::io::Result<()> {
        if let Some((file, temp, size, hasher)) = self.current.take() {
            file.sync_all()?;
            let number = self.done.len() + 1;
            let path = part_path_for(&self.tar, number);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.done.push((
                temp,
                path,
                PartInfo {
                    name,
                    size,
                    sha256: Digest::from_hasher(hasher),
                },
            ));
        }
        Ok(())
    }

    /// Closes the last part and renames every part into place; returns the parts.
    pub fn finish(mut self) -> std::io::Result<Vec<PartInfo>> {
        self.roll()?;
        let mut parts = Vec::new();
        for (temp, path, info) in std::mem::take(&mut self.done) {
            std::fs::rename(&temp, &path)?;
            parts.push(info);
        }
        Ok(parts)
    }

    /// Removes every temp file written so far.
    pub fn abandon(mut self) {
        if let Some((_, temp, _, _)) = self.current.take() {
            let _ = std::fs::remove_file(temp);
        }
        for (temp, _, _) in std::mem::take(&mut self.done) {
            let _ = std::fs::remove_file(temp);
        }
    }
}

impl std::io::Write for PartWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.current.as_ref().is_some_and(|c| c.2 >= self.part_size) {
            self.roll()?;
        }
        if self.current.is_none() {
            let number = self.done.len() + 1;
            let final_path = part_path_for(&self.tar, number);
            let name = final_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let temp = final_path.with_file_name(format!(".{name}{}", self.temp_suffix));
            let file = File::create(&temp)?;
            self.current = Some((file, temp, 0, Sha256::new()));
        }
        let Some((file, _, size, hasher)) = self.current.as_mut() else {
            return Ok(0);
        };
        let room = (self.part_size - *size).min(buf.len() as u64) as usize;
        let n = std::io::Write::write(file, &buf[..room])?;
        hasher.update(&buf[..n]);
        *size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.current.as_mut() {
            Some((file, ..)) => file.flush(),
            None => Ok(()),
        }
    }
}

/// Joins a split bundle into one tar at `out` (temp file + rename), checking every part.
pub fn join(bundle: &BundleFile, out: &Path) -> Result<u64, PartsError> {
    let io = |source| PartsError::Io {
        path: out.to_path_buf(),
        source,
    };
    let temp = crate::fsutil::temp_path_for(out);
    let result = (|| {
        let mut file = File::create(&temp).map_err(io)?;
        let mut reader = bundle.checking_reader();
        let copied = std::io::copy(&mut reader, &mut file).map_err(|e| {
            match e.into_inner().map(|inner| inner.downcast::<PartsError>()) {
                Some(Ok(part)) => *part,
                Some(Err(other)) => io(std::io::Error::other(other)),
                None => io(std::io::Error::other("read failed")),
            }
        })?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&temp, out).map_err(io)?;
        Ok(copied)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("700MB").unwrap(), 700_000_000);
        assert_eq!(parse_size("10MiB").unwrap(), 10 << 20);
        assert_eq!(parse_size("1.5k").unwrap(), 1500);
        assert_eq!(parse_size("fat32").unwrap(), FAT32_MAX);
        assert!(parse_size("10 parsecs").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn names() {
        let tar = Path::new("/b/rel-1.tar");
        assert_eq!(list_path_for(tar), Path::new("/b/rel-1.parts.json"));
        assert_eq!(part_path_for(tar, 3), Path::new("/b/rel-1.tar.003"));
        assert_eq!(
            tar_of_part(Path::new("/b/rel-1.tar.012")),
            Some(tar.to_path_buf())
        );
        assert_eq!(tar_of_part(Path::new("/b/rel-1.tar")), None);
        assert_eq!(tar_of_part(Path::new("/b/rel-1.12")), None);
    }

    #[test]
    fn split_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("x.tar");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut writer = PartWriter::new(&tar, 3000);
        writer.write_all(&data).unwrap();
        let parts = writer.finish().unwrap();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[3].size, 1000);
        let list = PartsList {
            format: PARTS_FORMAT,
            bundle: "x.tar".into(),
            size: data.len() as u64,
            index_digest: Digest::of(b"i"),
            part_size: 3000,
            parts,
        };
        std::fs::write(list_path_for(&tar), list.to_bytes()).unwrap();
        for name in ["x.parts.json", "x.tar.002", "x.tar"] {
            let bundle = BundleFile::open(&dir.path().join(name)).unwrap();
            assert_eq!(bundle.len(), 10_000);
            let mut all = Vec::new();
            bundle.checking_reader().read_to_end(&mut all).unwrap();
            assert_eq!(all, data);
            let mut mid = vec![0u8; 4000];
            bundle.read_exact_at(&mut mid, 2500).unwrap();
            assert_eq!(mid, data[2500..6500]);
            let mut r = bundle.reader();
            r.seek(SeekFrom::Start(8999)).unwrap();
            let mut two = [0u8; 2];
            r.read_exact(&mut two).unwrap();
            assert_eq!(two, data[8999..9001]);
        }
        // A flipped byte in part 2 is named when the sequential read passes it.
        let p2 = dir.path().join("x.tar.002");
        let mut bytes = std::fs::read(&p2).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&p2, bytes).unwrap();
        let bundle = BundleFile::open(&tar).unwrap();
        let err = bundle
            .checking_reader()
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("part 2 of 4"), "{err}");
        assert!(bundle.check_part(0).is_ok());
        assert!(matches!(
            bundle.check_part(1),
            Err(PartsError::Damaged { number: 2, .. })
        ));
        // A parts list naming a file outside its directory is refused (join would write it).
        let list_path = list_path_for(&tar);
        let good = std::fs::read(&list_path).unwrap();
        for bad in ["../x.tar", "/tmp/x.tar", ".hidden"] {
            let mut hostile: serde_json::Value = serde_json::from_slice(&good).unwrap();
            hostile["bundle"] = bad.into();
            std::fs::write(&list_path, serde_json::to_vec(&hostile).unwrap()).unwrap();
            let err = BundleFile::open(&list_path).unwrap_err();
            assert!(err.to_string().contains("not a plain file name"), "{err}");
        }
        std::fs::write(&list_path, &good).unwrap();
        // A missing part is named before anything is read.
        std::fs::remove_file(dir.path().join("x.tar.003")).unwrap();
        let err = BundleFile::open(&tar).unwrap_err();
        assert!(err.to_string().starts_with("part 3 of 4"), "{err}");
    }
}
