//! A bundle opened in place, one tar or all its parts as one byte range: positioned reads,
//! a seekable reader, a sequential reader that checks each part's sha256 as its last byte
//! passes, and `join` (parts back into one tar).

use super::list::{list_path_for, plain_name, read_capped, tar_of_part};
use super::{PartsError, PartsList, PARTS_FORMAT};
use crate::digest::Digest;
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

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
        let Some(list_path) = locate_list(path)? else {
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
        let list = load_list(&list_path)?;
        let count = list.parts.len();
        let mut segments = Vec::with_capacity(count);
        let mut start = 0;
        for (i, part) in list.parts.iter().enumerate() {
            let part_path = list_path.with_file_name(&part.name);
            let file = match File::open(&part_path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(PartsError::Missing {
                        number: i + 1,
                        count,
                        path: part_path,
                        hint: list.remedy(
                            &list_path,
                            &format!("copy it next to {}", list_path.display()),
                        ),
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
                    hint: list.repair_suffix(&list_path),
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
            hint: match (&self.parts, &self.list_path) {
                (Some(list), Some(path)) => list.remedy(path, "copy this part again"),
                _ => "copy this part again".into(),
            },
        }
    }
}

/// The parts list `path` names: the list itself, the one beside a part (`NAME.tar.007`),
/// or the one beside a missing `NAME.tar`; `None` for a whole tar.
///
/// Errors: [`PartsError::NoList`] for a part without its list.
pub fn locate_list(path: &Path) -> Result<Option<PathBuf>, PartsError> {
    let name = path.to_string_lossy();
    if name.ends_with(".parts.json") {
        Ok(Some(path.to_path_buf()))
    } else if let Some(tar) = tar_of_part(path) {
        let list = list_path_for(&tar);
        if !list.exists() {
            return Err(PartsError::NoList {
                path: path.to_path_buf(),
                list,
            });
        }
        Ok(Some(list))
    } else if !path.exists() && list_path_for(path).exists() {
        Ok(Some(list_path_for(path)))
    } else {
        Ok(None)
    }
}

/// Reads and checks a parts list: format, sizes adding up, plain file names (parity too).
///
/// Errors: [`PartsError::Io`], [`PartsError::BadList`].
pub fn load_list(list_path: &Path) -> Result<PartsList, PartsError> {
    let bytes = read_capped(list_path).map_err(|source| PartsError::Io {
        path: list_path.to_path_buf(),
        source,
    })?;
    let list: PartsList = serde_json::from_slice(&bytes).map_err(|e| PartsError::BadList {
        path: list_path.to_path_buf(),
        message: e.to_string(),
    })?;
    let bad = |message: String| PartsError::BadList {
        path: list_path.to_path_buf(),
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
    let parity = list.parity.iter().flat_map(|p| p.parts.iter());
    if let Some(part) = list
        .parts
        .iter()
        .chain(parity)
        .find(|p| !plain_name(&p.name))
    {
        return Err(bad(format!(
            "part name `{}` is not a plain file name",
            part.name
        )));
    }
    if let Some(parity) = &list.parity {
        parity.check(&list).map_err(bad)?;
    }
    Ok(list)
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
