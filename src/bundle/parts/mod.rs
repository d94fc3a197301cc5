//! Bundles split into parts (`NAME.tar.001 …` + `NAME.parts.json`) and read as one file.
//!
//! A bundle travels whole (`NAME.tar`) or cut into fixed-size parts for FAT32 sticks. The
//! parts are plain byte ranges of the whole tar, so `cat NAME.tar.*` (or `outpost bundle
//! join`) gives the unsplit bytes. `list` is the parts list and its names, `reader` opens
//! either form as one [`BundleFile`] (positioned reads for serving, a sequential reader that
//! checks each part for verify/load, a seekable one for indexing), `writer` cuts a stream into
//! parts. Every command that takes a bundle accepts the tar, the `.parts.json` or any part.
//! `parity` adds Reed-Solomon parity parts (`NAME.parity.001 …`, any `data` of the
//! `data + parity` parts rebuild the rest; `stripe` is the pure layout), `health` surveys
//! every part and repairs lost or damaged ones in place.

mod health;
mod list;
mod parity;
mod reader;
mod stripe;
mod writer;

pub use health::{repair, survey, PartHealth, PartState, RepairReport, Survey};
pub use list::{list_path_for, parity_path_for, parse_size, part_path_for, PartInfo, PartsList};
pub use parity::{add_parity, ParityInfo, PARITY_CHUNK, PARITY_SCHEME};
pub use reader::{join, load_list, locate_list, BundleFile, BundleReader};
pub use writer::PartWriter;

use crate::digest::Digest;
use std::path::PathBuf;

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
    /// `hint`: what to do (copy it next to the list, or run `bundle repair` when parity can).
    #[error("part {number} of {count} ({path}) is missing; {hint}")]
    Missing {
        number: usize,
        count: usize,
        path: PathBuf,
        hint: String,
    },
    /// `hint`: `""`, or `"; run outpost bundle repair …"` when parity can rebuild it.
    #[error("part {number} of {count} ({path}): {actual} bytes, {list} says {expected}; the copy is incomplete or damaged{hint}")]
    Size {
        number: usize,
        count: usize,
        path: PathBuf,
        list: PathBuf,
        expected: u64,
        actual: u64,
        hint: String,
    },
    /// `hint`: what to do (copy it again, or run `bundle repair` when parity can).
    #[error("part {number} of {count} ({path}): sha256 mismatch (expected {expected}, got {actual}); {hint}")]
    Damaged {
        number: usize,
        count: usize,
        path: PathBuf,
        expected: Digest,
        actual: Digest,
        hint: String,
    },
    #[error(
        "{path} is a part of a split bundle but {list} is not beside it; copy the parts list too"
    )]
    NoList { path: PathBuf, list: PathBuf },
    /// Some parts (data or parity) are missing or damaged; the survey says which and whether
    /// the parity parts can rebuild them.
    #[error("{}", .0.summary())]
    Unhealthy(Box<Survey>),
    #[error("{list}: {message}")]
    Parity { list: PathBuf, message: String },
    #[error("repairing {path}: the rebuilt bytes hash to {actual}, the parts list says {expected}; nothing was replaced (the parity parts may be damaged too)")]
    RepairMismatch {
        path: PathBuf,
        expected: Digest,
        actual: Digest,
    },
}

#[cfg(test)]
mod tests {
    use super::list::tar_of_part;
    use super::*;
    use std::io::Write;
    use std::io::{Read, Seek, SeekFrom};
    use std::path::Path;

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
            parity: None,
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

    /// Splits `data` into parts of `part_size` beside `dir/x.tar` with its list.
    fn split(dir: &Path, data: &[u8], part_size: u64) -> PathBuf {
        let tar = dir.join("x.tar");
        let mut writer = PartWriter::new(&tar, part_size);
        writer.write_all(data).unwrap();
        let parts = writer.finish().unwrap();
        let list = PartsList {
            format: PARTS_FORMAT,
            bundle: "x.tar".into(),
            size: data.len() as u64,
            index_digest: Digest::of(b"i"),
            part_size,
            parts,
            parity: None,
        };
        let list_path = list_path_for(&tar);
        std::fs::write(&list_path, list.to_bytes()).unwrap();
        list_path
    }

    #[test]
    fn parity_rebuilds_any_two_of_five_plus_two() {
        let dir = tempfile::tempdir().unwrap();
        // 5 parts of 1001 bytes (odd, so shards are padded), the last one short: 4 × 1001 + 77.
        let data: Vec<u8> = (0..4081u32).map(|i| (i * 31 % 253) as u8).collect();
        let list_path = split(dir.path(), &data, 1001);
        let progress = crate::progress::NoProgress;
        let list = parity::add_parity_chunked(&list_path, 2, 64, &progress).unwrap();
        let parity = list.parity.clone().unwrap();
        assert_eq!(parity.parts.len(), 2);
        assert_eq!(parity.shard_size, 1002);
        assert_eq!(load_list(&list_path).unwrap(), list);
        let names: Vec<String> = list
            .parts
            .iter()
            .chain(parity.parts.iter())
            .map(|p| p.name.clone())
            .collect();
        assert_eq!(names[5], "x.parity.001");
        let originals: Vec<Vec<u8>> = names
            .iter()
            .map(|n| std::fs::read(dir.path().join(n)).unwrap())
            .collect();
        for a in 0..names.len() {
            for b in a + 1..names.len() {
                std::fs::remove_file(dir.path().join(&names[a])).unwrap();
                // The other one damaged rather than missing.
                let mut bytes = originals[b].clone();
                bytes[7] ^= 0x40;
                std::fs::write(dir.path().join(&names[b]), bytes).unwrap();
                let survey = survey(&list_path, true, &progress).unwrap();
                assert_eq!(survey.bad().count(), 2, "{a} {b}");
                assert!(survey.repairable());
                assert!(
                    survey.summary().contains("can repair"),
                    "{}",
                    survey.summary()
                );
                let report = repair(&list_path, &progress).unwrap();
                assert_eq!(report.rebuilt.len(), 2);
                for (name, original) in names.iter().zip(&originals) {
                    assert_eq!(&std::fs::read(dir.path().join(name)).unwrap(), original);
                }
            }
        }
        // A list from anywhere cannot make the coder hold more than its stripe budget.
        let good = std::fs::read(&list_path).unwrap();
        let mut hostile: serde_json::Value = serde_json::from_slice(&good).unwrap();
        hostile["parity"]["chunkSize"] = (64u64 << 20).into();
        std::fs::write(&list_path, serde_json::to_vec(&hostile).unwrap()).unwrap();
        let err = load_list(&list_path).unwrap_err();
        assert!(err.to_string().contains("parity section"), "{err}");
        std::fs::write(&list_path, &good).unwrap();
        // Three lost of 5+2: refused, nothing written.
        for name in &names[..3] {
            std::fs::remove_file(dir.path().join(name)).unwrap();
        }
        let err = repair(&list_path, &progress).unwrap_err();
        assert!(err.to_string().contains("cannot repair"), "{err}");
        assert!(!dir.path().join(&names[0]).exists());
        // Opening names the repair command for a missing part.
        let err = BundleFile::open(&list_path).unwrap_err();
        assert!(err.to_string().contains("outpost bundle repair"), "{err}");
    }

    #[test]
    fn parity_refuses_a_damaged_data_part() {
        let dir = tempfile::tempdir().unwrap();
        let data = vec![5u8; 3000];
        let list_path = split(dir.path(), &data, 1000);
        std::fs::write(dir.path().join("x.tar.002"), vec![6u8; 1000]).unwrap();
        let progress = crate::progress::NoProgress;
        let err = parity::add_parity_chunked(&list_path, 1, 64, &progress).unwrap_err();
        assert!(
            matches!(err, PartsError::Damaged { number: 2, .. }),
            "{err}"
        );
        assert!(!dir.path().join("x.parity.001").exists());
        assert!(load_list(&list_path).unwrap().parity.is_none());
        assert!(add_parity(&list_path, 0, &progress).is_err());
    }
}
