//! The health of a split bundle's parts (data and parity) and their repair in place.
//!
//! [`survey`] names every part that is missing, of the wrong size or whose sha256 differs from
//! the parts list, and says whether the parity parts can rebuild them; [`repair`] rebuilds up
//! to `parity` of them stripe by stripe (memory `(data + parity) × chunk`), each into a temp
//! file that must hash to the list's sha256 before anything is renamed into place.

use super::list::PartInfo;
use super::parity::{coder_error, read_shard, OutPart};
use super::stripe;
use super::{load_list, PartsError, PartsList};
use crate::digest::Digest;
use crate::progress::Reporter;
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};
use serde::Serialize;
use std::fs::File;
use std::path::{Path, PathBuf};

/// What one part looks like on disk.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PartState {
    Intact,
    Missing,
    /// Present with another size than the list's.
    Size {
        expected: u64,
        actual: u64,
    },
    /// Present with the right size, but another sha256.
    Damaged {
        expected: Digest,
        actual: Digest,
    },
}

/// One part (data or parity) and its state.
#[derive(Debug, Clone, Serialize)]
pub struct PartHealth {
    pub name: String,
    pub path: PathBuf,
    /// Whether this is a parity part.
    pub parity: bool,
    #[serde(flatten)]
    pub state: PartState,
}

/// Every part of a split bundle, data first, then parity.
#[derive(Debug, Clone, Serialize)]
pub struct Survey {
    pub list_path: PathBuf,
    /// Number of data and parity parts.
    pub data: usize,
    pub parity: usize,
    pub parts: Vec<PartHealth>,
}

impl Survey {
    /// The parts that are missing or damaged.
    pub fn bad(&self) -> impl Iterator<Item = &PartHealth> {
        self.parts.iter().filter(|p| p.state != PartState::Intact)
    }

    /// Whether every lost or damaged part can be rebuilt (at most `parity` of them).
    pub fn repairable(&self) -> bool {
        self.bad().count() <= self.parity
    }

    /// One line: which parts are bad (`part 2 of 8 (PATH) is missing`, `parity part 1 of 2
    /// (PATH) has a sha256 mismatch …`) and what to do (`bundle repair`, or copy them again).
    pub fn summary(&self) -> String {
        let bad: Vec<&PartHealth> = self.bad().collect();
        let shape = match self.parity {
            0 => format!("{}", self.data),
            p => format!("{}+{p}", self.data),
        };
        if bad.is_empty() {
            return format!("all {shape} parts are intact");
        }
        let mut numbers = (0usize, 0usize);
        let named: Vec<String> = self
            .parts
            .iter()
            .filter_map(|p| {
                let (kind, number, count) = if p.parity {
                    numbers.1 += 1;
                    ("parity part", numbers.1, self.parity)
                } else {
                    numbers.0 += 1;
                    ("part", numbers.0, self.data)
                };
                let what = match &p.state {
                    PartState::Intact => return None,
                    PartState::Missing => "is missing".to_string(),
                    PartState::Size { expected, actual } => format!(
                        "is {actual} bytes, the list says {expected}: the copy is incomplete or damaged"
                    ),
                    PartState::Damaged { expected, actual } => {
                        format!("has a sha256 mismatch (expected {expected}, got {actual})")
                    }
                };
                Some(format!("{kind} {number} of {count} ({}) {what}", p.path.display()))
            })
            .collect();
        let head = format!(
            "{} of {shape} parts lost or damaged: {}",
            bad.len(),
            named.join("; ")
        );
        if self.repairable() {
            format!(
                "{head}; can repair: run `outpost bundle repair {}`",
                self.list_path.display()
            )
        } else if self.parity == 0 {
            let them = if bad.len() == 1 { "it" } else { "them" };
            format!("{head}; no parity parts to rebuild {them}: copy {them} again")
        } else {
            format!(
                "{head}; parity {}: cannot repair (at most {} can be rebuilt): copy the lost parts again",
                self.parity,
                crate::errors::plural(self.parity as u64, "part")
            )
        }
    }
}

/// Looks at every part of the split bundle whose list is `list_path`: presence, size, and
/// (for data parts only when `hash_data`; always for parity parts) sha256. A data part not
/// hashed counts as intact when its size is right (the caller checked its content).
///
/// Errors: [`PartsError::BadList`] for an unusable list, `Io` for a part that cannot be read.
pub fn survey(
    list_path: &Path,
    hash_data: bool,
    reporter: &dyn Reporter,
) -> Result<Survey, PartsError> {
    let list = load_list(list_path)?;
    let parity = list.parity.as_ref().map_or(&[][..], |p| &p.parts[..]);
    let total: u64 =
        parity.iter().map(|p| p.size).sum::<u64>() + if hash_data { list.size } else { 0 };
    reporter.start("check parts", total);
    let mut parts = Vec::new();
    let all = list.parts.iter().map(|p| (p, false));
    for (info, is_parity) in all.chain(parity.iter().map(|p| (p, true))) {
        let path = list_path.with_file_name(&info.name);
        let state = part_state(&path, info, is_parity || hash_data, reporter)?;
        parts.push(PartHealth {
            name: info.name.clone(),
            path,
            parity: is_parity,
            state,
        });
    }
    reporter.finish();
    Ok(Survey {
        list_path: list_path.to_path_buf(),
        data: list.parts.len(),
        parity: parity.len(),
        parts,
    })
}

fn part_state(
    path: &Path,
    info: &PartInfo,
    hash: bool,
    reporter: &dyn Reporter,
) -> Result<PartState, PartsError> {
    let io = |source| PartsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PartState::Missing),
        Err(e) => return Err(io(e)),
    };
    let actual = file.metadata().map_err(io)?.len();
    if actual != info.size {
        return Ok(PartState::Size {
            expected: info.size,
            actual,
        });
    }
    if !hash {
        return Ok(PartState::Intact);
    }
    let (digest, bytes) = Digest::of_reader(&mut file).map_err(io)?;
    reporter.advance(bytes);
    if digest != info.sha256 {
        return Ok(PartState::Damaged {
            expected: info.sha256.clone(),
            actual: digest,
        });
    }
    Ok(PartState::Intact)
}

/// What [`repair`] did.
#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    /// The survey before repair.
    pub survey: Survey,
    /// The parts rebuilt (their paths), empty when all were intact.
    pub rebuilt: Vec<PathBuf>,
}

/// Rebuilds every missing or damaged part (data or parity) of the split bundle at
/// `list_path` in place, when at most `parity` are; each rebuilt part must hash to the list's
/// sha256 before any is renamed into place.
///
/// Errors: [`PartsError::Unhealthy`] when more parts are bad than parity can rebuild
/// (nothing written), [`PartsError::RepairMismatch`] when a rebuilt part does not match,
/// `Io`.
pub fn repair(list_path: &Path, reporter: &dyn Reporter) -> Result<RepairReport, PartsError> {
    let survey = survey(list_path, true, reporter)?;
    let lost: Vec<usize> = (0..survey.parts.len())
        .filter(|&i| survey.parts[i].state != PartState::Intact)
        .collect();
    if lost.is_empty() {
        return Ok(RepairReport {
            survey,
            rebuilt: Vec::new(),
        });
    }
    if !survey.repairable() {
        return Err(PartsError::Unhealthy(Box::new(survey)));
    }
    let list = load_list(list_path)?;
    let rebuilt = rebuild(list_path, &list, &survey, &lost, reporter)?;
    Ok(RepairReport { survey, rebuilt })
}

fn rebuild(
    list_path: &Path,
    list: &PartsList,
    survey: &Survey,
    lost: &[usize],
    reporter: &dyn Reporter,
) -> Result<Vec<PathBuf>, PartsError> {
    let Some(parity) = &list.parity else {
        return Err(PartsError::Unhealthy(Box::new(survey.clone())));
    };
    let (data, count) = (list.parts.len(), parity.parts.len());
    let infos: Vec<&PartInfo> = list.parts.iter().chain(parity.parts.iter()).collect();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PartsError::Io { path, source }
    };
    // The intact parts, opened for reading; the lost ones, as temp files.
    let mut inputs: Vec<Option<File>> = Vec::with_capacity(infos.len());
    for (i, health) in survey.parts.iter().enumerate() {
        inputs.push(if lost.contains(&i) {
            None
        } else {
            Some(File::open(&health.path).map_err(io(&health.path))?)
        });
    }
    let mut outputs: Vec<(usize, OutPart)> = Vec::new();
    for &i in lost {
        match OutPart::create(survey.parts[i].path.clone()) {
            Ok(out) => outputs.push((i, out)),
            Err(e) => {
                outputs.into_iter().for_each(|(_, o)| o.abandon());
                return Err(e);
            }
        }
    }
    let chunk = parity.chunk_size as usize;
    let result = (|| {
        let mut buffers = vec![vec![0u8; chunk]; infos.len()];
        let mut decoder = coder_error(list_path, ReedSolomonDecoder::new(data, count, 2))?;
        let mut encoder = coder_error(list_path, ReedSolomonEncoder::new(data, count, 2))?;
        let data_lost = lost.iter().any(|&i| i < data);
        let parity_lost = lost.iter().any(|&i| i >= data);
        reporter.start("repair", parity.shard_size);
        for stripe in stripe::stripes(parity.shard_size, parity.chunk_size) {
            let len = stripe.len;
            for (i, input) in inputs.iter().enumerate() {
                if let Some(file) = input {
                    read_shard(file, list_path, infos[i], stripe, &mut buffers[i])?;
                }
            }
            if data_lost {
                coder_error(list_path, decoder.reset(data, count, len))?;
                for (i, buffer) in buffers.iter().enumerate() {
                    if inputs[i].is_none() {
                        continue;
                    }
                    let shard = &buffer[..len];
                    if i < data {
                        coder_error(list_path, decoder.add_original_shard(i, shard))?;
                    } else {
                        coder_error(list_path, decoder.add_recovery_shard(i - data, shard))?;
                    }
                }
                let decoded = coder_error(list_path, decoder.decode())?;
                for (i, shard) in decoded.restored_original_iter() {
                    buffers[i][..len].copy_from_slice(shard);
                }
            }
            if parity_lost {
                coder_error(list_path, encoder.reset(data, count, len))?;
                for buffer in &buffers[..data] {
                    coder_error(list_path, encoder.add_original_shard(&buffer[..len]))?;
                }
                let encoded = coder_error(list_path, encoder.encode())?;
                for (j, shard) in encoded.recovery_iter().enumerate() {
                    buffers[data + j][..len].copy_from_slice(shard);
                }
            }
            for (i, out) in outputs.iter_mut() {
                out.write(&buffers[*i][..stripe.present(infos[*i].size)])?;
            }
            reporter.advance(len as u64);
        }
        reporter.finish();
        for (i, out) in outputs.iter_mut() {
            let (actual, _) = out.seal()?;
            if actual != infos[*i].sha256 {
                return Err(PartsError::RepairMismatch {
                    path: out.path().to_path_buf(),
                    expected: infos[*i].sha256.clone(),
                    actual,
                });
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        outputs.into_iter().for_each(|(_, o)| o.abandon());
        return Err(e);
    }
    let mut rebuilt = Vec::new();
    for (_, out) in outputs {
        rebuilt.push(out.path().to_path_buf());
        out.rename()?;
    }
    Ok(rebuilt)
}
