//! The parts list (`NAME.parts.json`: each part's name, size and sha256), the names of parts
//! beside their tar, and part sizes as users write them (`4GiB`, `fat32`).

use super::{ParityInfo, FAT32_MAX};
use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

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
    /// Parity parts over `parts`, if any (absent in lists written before parity existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parity: Option<ParityInfo>,
}

impl PartsList {
    /// What to do about a lost part: `copy` (e.g. "copy it next to LIST"), preceded by the
    /// `bundle repair` command when this list has parity parts.
    pub fn remedy(&self, list_path: &Path, copy: &str) -> String {
        match &self.parity {
            Some(parity) => format!(
                "run `outpost bundle repair {}` first (its {} rebuild up to {} lost or damaged), or {copy}",
                list_path.display(),
                crate::errors::plural(parity.parts.len() as u64, "parity part"),
                crate::errors::plural(parity.parts.len() as u64, "part"),
            ),
            None => copy.to_string(),
        }
    }

    /// The parity remedy as a suffix (`""` without parity), for messages that already say
    /// what is wrong.
    pub fn repair_suffix(&self, list_path: &Path) -> String {
        match &self.parity {
            Some(_) => format!("; {}", self.remedy(list_path, "copy it again")),
            None => String::new(),
        }
    }

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

/// `NAME.tar` → `NAME.parity.NNN` (1-based), the parity parts; not matched by `NAME.tar.*`,
/// so `cat NAME.tar.*` still gives the whole tar.
pub fn parity_path_for(tar: &Path, number: usize) -> PathBuf {
    let name = tar
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".tar").unwrap_or(&name);
    tar.with_file_name(format!("{stem}.parity.{number:03}"))
}

/// If `path` names a part (`NAME.tar.007`), the whole tar's path (`NAME.tar`).
pub(super) fn tar_of_part(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let (base, number) = name.rsplit_once('.')?;
    if number.len() >= 3 && number.bytes().all(|b| b.is_ascii_digit()) && base.ends_with(".tar") {
        Some(path.with_file_name(base))
    } else {
        None
    }
}

/// A file name with no directory part (no `/`, `\\`, leading `.`, or NUL).
pub(super) fn plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// Reads a parts list, refusing one over 1 MiB (a real one is a few KiB).
pub(super) fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
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
