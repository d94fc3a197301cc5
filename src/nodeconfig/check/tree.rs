//! A node's files as `config check` reads them: by the node's own absolute paths
//! (`/etc/containerd/certs.d/docker.io/hosts.toml`). [`RootDir`] maps them under a directory
//! holding a copy of the node's tree (or `/` on the node itself), every path kept inside it
//! (`..` stops at the root, as it does on the node); [`MemTree`] holds small texts for tests.
//! Files are read up to [`MAX_CONFIG_BYTES`].

use super::CheckError;
use std::path::{Path, PathBuf};

/// The largest configuration file read (1 MiB): runtime configuration is a few KiB.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// A node's file system, by the node's absolute paths.
pub trait NodeTree {
    /// The text of the file at `path`; `None` when there is no such file.
    fn read(&self, path: &str) -> Result<Option<String>, CheckError>;
    fn is_file(&self, path: &str) -> bool;
    fn is_dir(&self, path: &str) -> bool;
    /// The names of the entries of directory `path`, sorted; empty when it is not there.
    fn list(&self, path: &str) -> Vec<String>;
    /// The tree's root, for messages.
    fn root(&self) -> String;
}

/// `path` made absolute and lexically normal: `.` dropped, `..` stepping up but never above
/// `/`, a relative path taken from `base` (the node directory it is relative to).
pub fn node_path(base: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{base}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The node's tree under a directory.
pub struct RootDir {
    root: PathBuf,
}

impl RootDir {
    pub fn new(root: &Path) -> RootDir {
        RootDir {
            root: root.to_path_buf(),
        }
    }

    /// Where the node's `path` is under the root, resolved as the node resolves it: each
    /// symbolic link followed inside the root (an absolute target is re-rooted, as in a
    /// chroot; `..` never leaves the root), at most [`MAX_LINKS`] of them. A path whose links
    /// loop or go on too long resolves to nothing there (the root's `/.outpost-no-such`).
    fn host_path(&self, path: &str) -> PathBuf {
        let mut pending: Vec<String> = node_path("/", path)
            .split('/')
            .filter(|p| !p.is_empty())
            .rev()
            .map(str::to_string)
            .collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(part) = pending.pop() {
            if part == ".." {
                resolved.pop();
                continue;
            }
            if part == "." {
                continue;
            }
            let host = self.root.join(resolved.join("/")).join(&part);
            let Ok(target) = std::fs::read_link(&host) else {
                resolved.push(part);
                continue;
            };
            links += 1;
            if links > MAX_LINKS {
                return self.root.join(".outpost-no-such");
            }
            let target = target.to_string_lossy().into_owned();
            if target.starts_with('/') {
                resolved.clear();
            }
            pending.extend(
                target
                    .split('/')
                    .filter(|p| !p.is_empty())
                    .rev()
                    .map(str::to_string),
            );
        }
        self.root.join(resolved.join("/"))
    }
}

/// How many symbolic links one path may go through (Linux's own limit).
const MAX_LINKS: usize = 40;

impl NodeTree for RootDir {
    fn read(&self, path: &str) -> Result<Option<String>, CheckError> {
        let host = self.host_path(path);
        if !host.is_file() {
            return Ok(None);
        }
        read_bounded(&host).map(Some)
    }

    fn is_file(&self, path: &str) -> bool {
        self.host_path(path).is_file()
    }

    fn is_dir(&self, path: &str) -> bool {
        self.host_path(path).is_dir()
    }

    fn list(&self, path: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.host_path(path))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn root(&self) -> String {
        self.root.display().to_string()
    }
}

/// The text of `path` (at most [`MAX_CONFIG_BYTES`]).
///
/// Errors: it cannot be read, is larger, or is not UTF-8.
pub fn read_bounded(path: &Path) -> Result<String, CheckError> {
    use std::io::Read;
    let name = || path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| CheckError::Read {
        path: name(),
        source,
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| CheckError::Read {
            path: name(),
            source,
        })?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(CheckError::TooLarge {
            path: name(),
            limit: MAX_CONFIG_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|_| CheckError::NotText { path: name() })
}

/// A tree of small texts, for tests.
#[cfg(test)]
#[derive(Default)]
pub struct MemTree {
    files: std::collections::BTreeMap<String, String>,
}

#[cfg(test)]
impl MemTree {
    pub fn file(mut self, path: &str, text: &str) -> MemTree {
        self.files.insert(path.to_string(), text.to_string());
        self
    }
}

#[cfg(test)]
impl NodeTree for MemTree {
    fn read(&self, path: &str) -> Result<Option<String>, CheckError> {
        Ok(self.files.get(&node_path("/", path)).cloned())
    }

    fn is_file(&self, path: &str) -> bool {
        self.files.contains_key(&node_path("/", path))
    }

    fn is_dir(&self, path: &str) -> bool {
        let prefix = format!("{}/", node_path("/", path));
        self.files.keys().any(|k| k.starts_with(&prefix))
    }

    fn list(&self, path: &str) -> Vec<String> {
        let prefix = format!("{}/", node_path("/", path));
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
            .collect();
        names.dedup();
        names
    }

    fn root(&self) -> String {
        "(memory)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_paths_stay_inside_the_root() {
        assert_eq!(node_path("/etc/x", "ca.crt"), "/etc/x/ca.crt");
        assert_eq!(node_path("/etc/x", "/etc/ca.crt"), "/etc/ca.crt");
        assert_eq!(node_path("/etc/x", "../../../../y/./z"), "/y/z");
    }

    #[test]
    fn a_root_dir_maps_node_paths_under_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/a")).unwrap();
        std::fs::write(dir.path().join("etc/a/f"), "text").unwrap();
        let tree = RootDir::new(dir.path());
        assert_eq!(tree.read("/etc/a/f").unwrap().as_deref(), Some("text"));
        assert_eq!(tree.read("/../etc/a/f").unwrap().as_deref(), Some("text"));
        assert_eq!(tree.read("/etc/a/g").unwrap(), None);
        assert!(tree.is_dir("/etc/a") && !tree.is_dir("/etc/a/f"));
        assert_eq!(tree.list("/etc/a"), ["f"]);
        assert!(tree.list("/nope").is_empty());
    }

    #[test]
    fn oversized_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'a'; MAX_CONFIG_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            read_bounded(&path),
            Err(CheckError::TooLarge { .. })
        ));
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_node_root_never_on_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("usr/share/ca")).unwrap();
        std::fs::write(root.join("usr/share/ca/site.crt"), "node CA").unwrap();
        // An absolute link is the node's path: found under the root.
        std::os::unix::fs::symlink("/usr/share/ca/site.crt", root.join("etc/ca.crt")).unwrap();
        // A link to a host file the node does not have is not there.
        std::os::unix::fs::symlink("/etc/hostname", root.join("etc/host.crt")).unwrap();
        // `..` in a link stops at the root.
        std::os::unix::fs::symlink("../../../../etc/passwd", root.join("etc/up")).unwrap();
        // A loop resolves to nothing.
        std::os::unix::fs::symlink("/etc/loop", root.join("etc/loop")).unwrap();
        let tree = RootDir::new(root);
        assert_eq!(
            tree.read("/etc/ca.crt").unwrap().as_deref(),
            Some("node CA")
        );
        assert!(!tree.is_file("/etc/host.crt"));
        assert!(!tree.is_file("/etc/up"));
        assert!(!tree.is_file("/etc/loop"));
    }
}
