//! Parity parts: Reed-Solomon over the data parts, written as `NAME.parity.001 …` and recorded
//! in the parts list's `parity` section.
//!
//! The code is `reed-solomon-simd` (Leopard-RS over GF(2^16)): with `data` data parts and
//! `parity` parity parts, any `data` of the `data + parity` parts rebuild the others. Coding
//! goes stripe by stripe (see [`super::stripe`]), reading every part sequentially, so memory
//! is `(data + parity) × chunk_size` and parts can be 4 GiB.

use super::list::PartInfo;
use super::stripe::{self, Stripe};
use super::{load_list, parity_path_for, PartsError, PartsList};
use crate::digest::Digest;
use crate::progress::Reporter;
use reed_solomon_simd::ReedSolomonEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The `scheme` recorded in parts lists: Leopard-RS Reed-Solomon over GF(2^16).
pub const PARITY_SCHEME: &str = "reed-solomon-gf16";
/// Bytes of each part coded at a time (one stripe), at most; less when many parts would
/// make a stripe of every part exceed [`stripe::STRIPE_BUDGET`].
pub const PARITY_CHUNK: u64 = 1 << 20;
/// The most parity parts one list may carry.
pub const MAX_PARITY: usize = 255;

/// The `parity` section of `NAME.parts.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ParityInfo {
    /// [`PARITY_SCHEME`].
    pub scheme: String,
    /// Stripe length in bytes (even; at most what [`stripe::chunk_for`] gives, which bounds
    /// the coder's memory for a list from anywhere).
    pub chunk_size: u64,
    /// How many data parts the parity covers (all of the list's parts).
    pub data_parts: usize,
    /// Length of every shard, and so of every parity part: the largest data part rounded up
    /// to even; shorter data parts are coded as if zero-padded to it.
    pub shard_size: u64,
    /// The parity parts (`NAME.parity.001 …`), each `shard_size` bytes.
    pub parts: Vec<PartInfo>,
}

impl ParityInfo {
    /// Whether this section fits `list` and this outpost can decode it.
    pub(super) fn check(&self, list: &PartsList) -> Result<(), String> {
        if self.scheme != PARITY_SCHEME {
            return Err(format!(
                "parity scheme `{}` (this outpost reads {PARITY_SCHEME})",
                self.scheme
            ));
        }
        let largest = list.parts.iter().map(|p| p.size).max().unwrap_or(0);
        if self.data_parts != list.parts.len()
            || self.shard_size != stripe::shard_size(largest)
            || self.chunk_size == 0
            || !self.chunk_size.is_multiple_of(2)
            || self.chunk_size > stripe::chunk_for(self.data_parts + self.parts.len(), PARITY_CHUNK)
            || self.parts.is_empty()
            || self.parts.len() > MAX_PARITY
            || self.parts.iter().any(|p| p.size != self.shard_size)
            || !ReedSolomonEncoder::supports(self.data_parts, self.parts.len())
        {
            return Err("the parity section does not match the parts".into());
        }
        Ok(())
    }
}

/// Writes `count` parity parts for the split bundle whose parts list is `list_path`,
/// replacing any it had, and records them in the list (rewritten atomically, last).
/// Every data part is read once, and checked against its sha256 on the way: parity over a
/// damaged part would rebuild the damage, so then nothing is written.
///
/// Errors: [`PartsError::Parity`] for a count out of 1..=255 or one the coder cannot do,
/// `Missing`/`Size`/`Damaged` for a bad data part, `Io`.
pub fn add_parity(
    list_path: &Path,
    count: usize,
    reporter: &dyn Reporter,
) -> Result<PartsList, PartsError> {
    let data = load_list(list_path)?.parts.len();
    let chunk = stripe::chunk_for(data + count, PARITY_CHUNK);
    add_parity_chunked(list_path, count, chunk, reporter)
}

/// [`add_parity`] with stripes of `chunk` bytes (even, ≤ 64 MiB).
pub(super) fn add_parity_chunked(
    list_path: &Path,
    count: usize,
    chunk: u64,
    reporter: &dyn Reporter,
) -> Result<PartsList, PartsError> {
    let mut list = load_list(list_path)?;
    let data = list.parts.len();
    if count == 0 || count > MAX_PARITY || !ReedSolomonEncoder::supports(data, count) {
        return Err(PartsError::Parity {
            list: list_path.to_path_buf(),
            message: format!("{count} parity parts over {data} data parts: give 1 to {MAX_PARITY}"),
        });
    }
    list.parity = None;
    let largest = list.parts.iter().map(|p| p.size).max().unwrap_or(0);
    let shard_size = stripe::shard_size(largest);
    let inputs: Vec<File> = (0..data)
        .map(|i| open_part(list_path, &list, i))
        .collect::<Result<_, _>>()?;
    let tar = list_path.with_file_name(&list.bundle);
    let mut outputs: Vec<OutPart> = (1..=count)
        .map(|n| OutPart::create(parity_path_for(&tar, n)))
        .collect::<Result<_, _>>()?;
    let result = (|| {
        let mut hashers: Vec<Sha256> = (0..data).map(|_| Sha256::new()).collect();
        let mut buffers = vec![vec![0u8; chunk as usize]; data];
        let mut encoder = coder_error(list_path, ReedSolomonEncoder::new(data, count, 2))?;
        reporter.start("parity", list.size);
        for stripe in stripe::stripes(shard_size, chunk) {
            for (i, buffer) in buffers.iter_mut().enumerate() {
                let part = &list.parts[i];
                let present = read_shard(&inputs[i], list_path, part, stripe, buffer)?;
                hashers[i].update(&buffer[..present]);
                reporter.advance(present as u64);
            }
            coder_error(list_path, encoder.reset(data, count, stripe.len))?;
            for buffer in &buffers {
                coder_error(list_path, encoder.add_original_shard(&buffer[..stripe.len]))?;
            }
            let encoded = coder_error(list_path, encoder.encode())?;
            for (out, shard) in outputs.iter_mut().zip(encoded.recovery_iter()) {
                out.write(shard)?;
            }
        }
        reporter.finish();
        for (i, hasher) in hashers.into_iter().enumerate() {
            let actual = Digest::from_hasher(hasher);
            if actual != list.parts[i].sha256 {
                return Err(PartsError::Damaged {
                    number: i + 1,
                    count: data,
                    path: list_path.with_file_name(&list.parts[i].name),
                    expected: list.parts[i].sha256.clone(),
                    actual,
                    hint: "copy this part again before adding parity (parity over a damaged part would rebuild the damage)".into(),
                });
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        outputs.into_iter().for_each(OutPart::abandon);
        return Err(e);
    }
    let mut parts = Vec::with_capacity(count);
    for out in outputs {
        parts.push(out.commit()?);
    }
    let mut stale = count + 1;
    while std::fs::remove_file(parity_path_for(&tar, stale)).is_ok() {
        stale += 1;
    }
    list.parity = Some(ParityInfo {
        scheme: PARITY_SCHEME.into(),
        chunk_size: chunk,
        data_parts: data,
        shard_size,
        parts,
    });
    crate::fsutil::write_atomic(list_path, &list.to_bytes()).map_err(|source| PartsError::Io {
        path: list_path.to_path_buf(),
        source,
    })?;
    Ok(list)
}

/// Opens data part `index` (0-based) of `list`, checking that it is there with its size.
pub(super) fn open_part(
    list_path: &Path,
    list: &PartsList,
    index: usize,
) -> Result<File, PartsError> {
    let part = &list.parts[index];
    let path = list_path.with_file_name(&part.name);
    let count = list.parts.len();
    let file = File::open(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => PartsError::Missing {
            number: index + 1,
            count,
            path: path.clone(),
            hint: list.remedy(
                list_path,
                &format!("copy it next to {}", list_path.display()),
            ),
        },
        _ => PartsError::Io {
            path: path.clone(),
            source,
        },
    })?;
    let actual = file
        .metadata()
        .map_err(|source| PartsError::Io {
            path: path.clone(),
            source,
        })?
        .len();
    if actual != part.size {
        return Err(PartsError::Size {
            number: index + 1,
            count,
            path,
            list: list_path.to_path_buf(),
            expected: part.size,
            actual,
            hint: list.repair_suffix(list_path),
        });
    }
    Ok(file)
}

/// Reads `stripe` of `part` from `file` into `buffer[..stripe.len]`, zero beyond the part's
/// end; returns how many bytes came from the file.
pub(super) fn read_shard(
    file: &File,
    list_path: &Path,
    part: &PartInfo,
    stripe: Stripe,
    buffer: &mut [u8],
) -> Result<usize, PartsError> {
    let present = stripe.present(part.size);
    file.read_exact_at(&mut buffer[..present], stripe.offset)
        .map_err(|source| PartsError::Io {
            path: list_path.with_file_name(&part.name),
            source,
        })?;
    buffer[present..stripe.len].fill(0);
    Ok(present)
}

/// Maps a coder error (which our own checks should prevent) to a message naming the list.
pub(super) fn coder_error<T>(
    list_path: &Path,
    result: Result<T, reed_solomon_simd::Error>,
) -> Result<T, PartsError> {
    result.map_err(|e| PartsError::Parity {
        list: list_path.to_path_buf(),
        message: format!("Reed-Solomon coding failed: {e}"),
    })
}

/// A part being written under a temp name beside its final path, hashed as it goes.
pub(super) struct OutPart {
    path: PathBuf,
    temp: PathBuf,
    file: File,
    hasher: Sha256,
    size: u64,
}

impl OutPart {
    pub(super) fn create(path: PathBuf) -> Result<OutPart, PartsError> {
        let temp = crate::fsutil::temp_path_for(&path);
        let file = File::create(&temp).map_err(|source| PartsError::Io {
            path: temp.clone(),
            source,
        })?;
        Ok(OutPart {
            path,
            temp,
            file,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn write(&mut self, bytes: &[u8]) -> Result<(), PartsError> {
        self.file
            .write_all(bytes)
            .map_err(|source| PartsError::Io {
                path: self.temp.clone(),
                source,
            })?;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Syncs the temp file and returns what it holds, without renaming it yet.
    pub(super) fn seal(&mut self) -> Result<(Digest, u64), PartsError> {
        self.file.sync_all().map_err(|source| PartsError::Io {
            path: self.temp.clone(),
            source,
        })?;
        let hasher = std::mem::replace(&mut self.hasher, Sha256::new());
        Ok((Digest::from_hasher(hasher), self.size))
    }

    /// Renames the part into place (after [`OutPart::seal`]).
    pub(super) fn rename(self) -> Result<(), PartsError> {
        std::fs::rename(&self.temp, &self.path).map_err(|source| PartsError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Seals and renames the part into place; returns its entry for the parts list.
    pub(super) fn commit(mut self) -> Result<PartInfo, PartsError> {
        let (sha256, size) = self.seal()?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.rename()?;
        Ok(PartInfo { name, size, sha256 })
    }

    pub(super) fn abandon(self) {
        let _ = std::fs::remove_file(&self.temp);
    }
}
