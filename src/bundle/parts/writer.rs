//! Writing one stream into parts of at most a given size, hashing each part as it is written;
//! parts become visible (renamed from temp names) only when the whole stream is written.

use super::{part_path_for, PartInfo};
use crate::digest::Digest;
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};

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
            temp_suffix: format!(".tmp.{}", crate::fsutil::unique_suffix()),
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
