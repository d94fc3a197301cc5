//! Small filesystem helpers shared by every writer: atomic writes (temp file + rename), and
//! the one measure of free space (statvfs).

use std::io::Write;
use std::path::{Path, PathBuf};

/// A sibling temp path for `path` that no other writer uses at the same time.
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp.{}", std::process::id()))
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
            .create(true)
            .truncate(true)
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
