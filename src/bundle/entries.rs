//! Tar entries of a bundle: writing deterministic headers, and classifying what a reader meets.
//!
//! Only five kinds of entry may appear: `oci-layout`, `index.json`, `index.json.sig`, the
//! directories `blobs/` and `blobs/sha256/`, and regular files `blobs/sha256/<64 hex>`.
//! Anything else (`..`, absolute paths, links, devices, other names) is refused by name.

use super::{INDEX_FILE, OCI_LAYOUT_FILE, SIGNATURE_FILE};
use crate::digest::Digest;
use std::io::Write;

pub const BLOCK: u64 = 512;

/// What an entry's name means in the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutName {
    Layout,
    Index,
    Signature,
    Directory,
    Blob(Digest),
}

/// Why an entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tar entry `{name}` is not allowed in a bundle: {reason}")]
pub struct BadEntry {
    pub name: String,
    pub reason: &'static str,
}

/// Decides what an entry is from its raw path bytes and tar type.
pub fn classify(raw_path: &[u8], entry_type: tar::EntryType) -> Result<LayoutName, BadEntry> {
    let name = String::from_utf8_lossy(raw_path).into_owned();
    let bad = |reason| {
        Err(BadEntry {
            name: name.clone(),
            reason,
        })
    };
    if raw_path.starts_with(b"/") {
        return bad("absolute path");
    }
    if name.split('/').any(|c| c == "..") {
        return bad("path escapes the layout (`..`)");
    }
    if entry_type.is_symlink() {
        return bad("symbolic link");
    }
    if entry_type.is_hard_link() {
        return bad("hard link");
    }
    let trimmed = name.strip_prefix("./").unwrap_or(&name);
    if entry_type.is_dir() {
        return match trimmed.trim_end_matches('/') {
            "blobs" | "blobs/sha256" => Ok(LayoutName::Directory),
            _ => bad("unexpected directory"),
        };
    }
    if !entry_type.is_file() {
        return bad("not a regular file (device, fifo or special entry)");
    }
    match trimmed {
        OCI_LAYOUT_FILE => Ok(LayoutName::Layout),
        INDEX_FILE => Ok(LayoutName::Index),
        SIGNATURE_FILE => Ok(LayoutName::Signature),
        other => match other.strip_prefix("blobs/sha256/") {
            Some(hex) => Digest::from_hex(hex)
                .map(LayoutName::Blob)
                .or_else(|_| bad("blob name is not 64 lowercase hex digits")),
            None => bad("unexpected file"),
        },
    }
}

/// Writes a deterministic header (fixed mode, owner and time) for a file or directory.
pub fn write_header(
    out: &mut impl Write,
    path: &str,
    size: u64,
    is_dir: bool,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_path(path)?;
    header.set_size(size);
    header.set_entry_type(if is_dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    header.set_mode(if is_dir { 0o755 } else { 0o644 });
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    out.write_all(header.as_bytes())
}

/// Zero bytes that complete an entry of `size` bytes to a whole block.
pub fn padding(size: u64) -> usize {
    ((BLOCK - size % BLOCK) % BLOCK) as usize
}

/// Writes a whole small entry (header, data, padding).
pub fn write_small(out: &mut impl Write, path: &str, data: &[u8]) -> std::io::Result<()> {
    write_header(out, path, data.len() as u64, false)?;
    out.write_all(data)?;
    out.write_all(&[0u8; BLOCK as usize][..padding(data.len() as u64)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tar::EntryType;

    #[test]
    fn only_layout_names_are_accepted() {
        let hex = "a".repeat(64);
        let blob = format!("blobs/sha256/{hex}");
        assert_eq!(
            classify(b"index.json", EntryType::Regular),
            Ok(LayoutName::Index)
        );
        assert_eq!(
            classify(b"./oci-layout", EntryType::Regular),
            Ok(LayoutName::Layout)
        );
        assert_eq!(
            classify(b"blobs/sha256/", EntryType::Directory),
            Ok(LayoutName::Directory)
        );
        assert!(matches!(
            classify(blob.as_bytes(), EntryType::Regular),
            Ok(LayoutName::Blob(_))
        ));
        let reason = |path: &[u8], t| classify(path, t).unwrap_err().reason;
        assert_eq!(
            reason(b"../evil", EntryType::Regular),
            "path escapes the layout (`..`)"
        );
        assert_eq!(
            reason(b"blobs/../../x", EntryType::Regular),
            "path escapes the layout (`..`)"
        );
        assert_eq!(reason(b"/etc/passwd", EntryType::Regular), "absolute path");
        assert_eq!(reason(blob.as_bytes(), EntryType::Symlink), "symbolic link");
        assert_eq!(reason(blob.as_bytes(), EntryType::Link), "hard link");
        assert_eq!(
            reason(blob.as_bytes(), EntryType::Char),
            "not a regular file (device, fifo or special entry)"
        );
        assert_eq!(
            reason(b"blobs/sha256/abc", EntryType::Regular),
            "blob name is not 64 lowercase hex digits"
        );
        assert_eq!(reason(b"notes.txt", EntryType::Regular), "unexpected file");
    }

    #[test]
    fn padding_completes_blocks() {
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
    }
}
