//! Bundles split into parts (`NAME.tar.001 …` + `NAME.parts.json`) and read as one file.
//!
//! A bundle travels whole (`NAME.tar`) or cut into fixed-size parts for FAT32 sticks. The
//! parts are plain byte ranges of the whole tar, so `cat NAME.tar.*` (or `outpost bundle
//! join`) gives the unsplit bytes. `list` is the parts list and its names, `reader` opens
//! either form as one [`BundleFile`] (positioned reads for serving, a sequential reader that
//! checks each part for verify/load, a seekable one for indexing), `writer` cuts a stream into
//! parts. Every command that takes a bundle accepts the tar, the `.parts.json` or any part.

mod list;
mod reader;
mod writer;

pub use list::{list_path_for, parse_size, part_path_for, PartInfo, PartsList};
pub use reader::{join, BundleFile, BundleReader};
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
    #[error("part {number} of {count} ({path}) is missing; copy it next to {list}")]
    Missing {
        number: usize,
        count: usize,
        path: PathBuf,
        list: PathBuf,
    },
    #[error("part {number} of {count} ({path}): {actual} bytes, {list} says {expected}; the copy is incomplete or damaged")]
    Size {
        number: usize,
        count: usize,
        path: PathBuf,
        list: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("part {number} of {count} ({path}): sha256 mismatch (expected {expected}, got {actual}); copy this part again")]
    Damaged {
        number: usize,
        count: usize,
        path: PathBuf,
        expected: Digest,
        actual: Digest,
    },
    #[error(
        "{path} is a part of a split bundle but {list} is not beside it; copy the parts list too"
    )]
    NoList { path: PathBuf, list: PathBuf },
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
}
