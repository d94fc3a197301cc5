//! Small filesystem helpers shared by every writer: atomic writes (temp file + rename), the
//! one measure of free space (statvfs), and the kernel's file-to-file copy with its fallback.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A sibling temp path for `path` that no other writer uses at the same time.
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp.{}", unique_suffix()))
}

/// `PID-N-RANDOM`: unique among this process's temp files (N counts them) and, by its random
/// part, among other processes' too, even ones with the same PID (two containers whose
/// outpost is PID 1, sharing a cache volume).
pub fn unique_suffix() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}-{:016x}", std::process::id(), rand::random::<u64>())
}

/// `text` made safe as one path segment: every character but ASCII letters, digits, `.`,
/// `_` and `-` becomes `-` (so no `/`, no spaces, nothing a shell or URL must quote).
pub fn path_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Writes `bytes` to `path` so readers see either the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, bytes, 0o666)
}

/// As [`write_atomic`], for a secret: the file is mode 0600 from its creation on.
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, bytes, 0o600)
}

fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let temp = temp_path_for(path);
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Free space on the filesystem that holds `path`: bytes available to unprivileged users
/// (statvfs `f_bavail × f_frsize`) and the filesystem's device id (`st_dev`), so two places
/// on one filesystem can be told apart from two filesystems. A path that does not exist yet
/// is measured at its nearest existing ancestor (where it will be created).
///
/// Errors: the statvfs or stat error of that ancestor.
pub fn free_space(path: &Path) -> std::io::Result<FreeSpace> {
    use std::os::unix::fs::MetadataExt;
    let mut at = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    while !at.exists() {
        match at.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => at = parent,
            _ => {
                at = Path::new(".");
                break;
            }
        }
    }
    let stat = rustix::fs::statvfs(at).map_err(std::io::Error::from)?;
    Ok(FreeSpace {
        available: stat.f_bavail.saturating_mul(stat.f_frsize),
        device: std::fs::metadata(at)?.dev(),
    })
}

/// What [`free_space`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeSpace {
    /// Bytes an unprivileged writer may still use.
    pub available: u64,
    /// `st_dev` of the filesystem.
    pub device: u64,
}

/// Copies `len` bytes from `from` to `to`, each at its current file offset (both advance),
/// with the kernel's file-to-file copy (`copy_file_range(2)`: the bytes never pass through
/// this process; any offsets work, though a filesystem shares extents instead of copying
/// (XFS, Btrfs) only at block-aligned ones, which a tar's 512-byte data offsets rarely are).
/// Where the kernel or the filesystem cannot (`EXDEV`, `ENOSYS`, `EOPNOTSUPP`,
/// `EINVAL`: another filesystem, an old kernel, a special file) it falls back to plain
/// read/write for the rest. Returns the bytes copied: fewer than `len` only when `from` ends
/// first.
///
/// Errors: the first read, write or copy error other than those four.
pub fn copy_file_range_all(
    from: &std::fs::File,
    to: &std::fs::File,
    len: u64,
) -> std::io::Result<u64> {
    use rustix::io::Errno;
    let mut copied = 0u64;
    while copied < len {
        let chunk = (len - copied).min(1 << 30) as usize;
        match rustix::fs::copy_file_range(from, None, to, None, chunk) {
            Ok(0) => return Ok(copied),
            Ok(n) => copied += n as u64,
            Err(Errno::INTR) => {}
            Err(Errno::XDEV | Errno::NOSYS | Errno::OPNOTSUPP | Errno::INVAL) => {
                return Ok(copied + copy_plain(from, to, len - copied)?);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(copied)
}

/// `len` bytes (fewer if `from` ends) through a buffer: the fallback of
/// [`copy_file_range_all`].
fn copy_plain(mut from: &std::fs::File, mut to: &std::fs::File, len: u64) -> std::io::Result<u64> {
    use std::io::Read;
    let mut buffer = vec![0u8; (1 << 20).min(len as usize)];
    let mut copied = 0u64;
    while copied < len {
        let want = (len - copied).min(buffer.len() as u64) as usize;
        let n = match from.read(&mut buffer[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buffer[..n])?;
        copied += n as u64;
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom};

    #[test]
    fn copies_a_range_at_the_current_offsets_and_stops_where_the_source_ends() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("from"), &data).unwrap();
        let from = std::fs::File::open(dir.path().join("from")).unwrap();
        let mut to = std::fs::File::create(dir.path().join("to")).unwrap();
        to.write_all(b"head").unwrap(); // not block-aligned: tar headers are 512 bytes
        (&from).seek(SeekFrom::Start(10)).unwrap();
        assert_eq!(
            copy_file_range_all(&from, &to, 1_000_000).unwrap(),
            1_000_000
        );
        to.write_all(b"tail").unwrap();
        // Past the end of the source: what there is.
        assert_eq!(
            copy_file_range_all(&from, &to, 5_000_000).unwrap(),
            1_999_990
        );
        let written = std::fs::read(dir.path().join("to")).unwrap();
        assert_eq!(&written[..4], b"head");
        assert_eq!(&written[4..1_000_004], &data[10..1_000_010]);
        assert_eq!(&written[1_000_004..1_000_008], b"tail");
        assert_eq!(&written[1_000_008..], &data[1_000_010..]);
    }

    #[test]
    fn the_fallback_copies_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(dir.path().join("from"), &data).unwrap();
        let from = std::fs::File::open(dir.path().join("from")).unwrap();
        let to = std::fs::File::create(dir.path().join("to")).unwrap();
        assert_eq!(copy_plain(&from, &to, 2_000_000).unwrap(), 2_000_000);
        assert_eq!(copy_plain(&from, &to, 2_000_000).unwrap(), 500_000);
        assert_eq!(std::fs::read(dir.path().join("to")).unwrap(), data);
    }
}
