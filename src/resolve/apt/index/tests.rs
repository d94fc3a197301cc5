//! Unit tests of the index reader: decompression (bounds, bombs, members), paragraph
//! location and lazy reading back.
use super::*;

const TEXT: &str = "Package: aa\nVersion: 1\nArchitecture: amd64\nDescription: short\n long\n\nPackage: bb\nVersion: 2\nArchitecture: all\nProvides: vv\n";

fn compressed(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let bytes = if name.ends_with(".xz") {
        liblzma::encode_all(text, 6).unwrap()
    } else if name.ends_with(".gz") {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text).unwrap();
        encoder.finish().unwrap()
    } else {
        text.to_vec()
    };
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn indexes_decompress_streaming_and_packages_read_back_by_offset() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["Packages.xz", "Packages.gz", "Packages"] {
        let blob = compressed(dir.path(), name, TEXT.as_bytes());
        let derived = dir.path().join("derived").join(format!("{name}.Packages"));
        decompress(&blob, name, &derived, "http://archive.test/x", 1 << 20).unwrap();
        assert_eq!(std::fs::read_to_string(&derived).unwrap(), TEXT, "{name}");
        let mut builder = UniverseBuilder::new("amd64");
        let file = File::open(&derived).unwrap();
        index_text(&file, 0, &mut builder).ok().unwrap();
        let mut files = IndexFiles::default();
        files.files.push(IndexFile {
            file,
            path: derived,
            origin: "http://archive.test/x suite".into(),
        });
        let universe = builder.build(Box::new(files));
        assert_eq!(universe.len(), 2);
        let aa = universe.package(0).unwrap();
        assert_eq!(
            (aa.name.as_str(), aa.origin.as_str()),
            ("aa", "http://archive.test/x suite")
        );
        assert_eq!(
            aa.fields.get("Description"),
            Some("short"),
            "the synopsis only"
        );
        assert_eq!(universe.package(1).unwrap().provides[0].name, "vv");
    }
}

#[test]
fn a_decompression_bomb_and_an_endless_line_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = "Package: aa\n".repeat(10_000);
    for name in ["Packages.xz", "Packages.gz", "Packages"] {
        let blob = compressed(dir.path(), name, big.as_bytes());
        let derived = dir.path().join(format!("{name}.Packages"));
        let err = decompress(&blob, name, &derived, "http://archive.test/x", 4096).unwrap_err();
        assert!(
            err.to_string()
                .contains("decompresses to more than 4096 bytes"),
            "{name}: {err}"
        );
        assert!(!derived.exists(), "no half-written index is left");
    }
    let endless = dir.path().join("endless");
    let mut text = b"Package: aa\nDescription: ".to_vec();
    text.resize(MAX_PARAGRAPH_BYTES + 100, b'x');
    std::fs::write(&endless, &text).unwrap();
    let failure = index_text(
        &File::open(&endless).unwrap(),
        0,
        &mut UniverseBuilder::new("amd64"),
    );
    // Named by the line its paragraph starts at, not the long line's.
    assert!(matches!(
        failure,
        Err(IndexFailure::Paragraph(ParagraphError::Format(
            ControlError::TooLong(1, MAX_PARAGRAPH_BYTES)
        )))
    ));
}

/// The VmHWM of this process, in KiB (nextest runs each test in a process of its own).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn an_xz_bomb_in_one_block_is_refused_without_being_held() {
    // 512 MiB of zeros in one xz block (what `xz -T1` writes): a decoder that holds a
    // block until its end would hold all of it before the bound sees a byte.
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("Packages.xz");
    {
        let file = File::create(&blob).unwrap();
        let mut xz = liblzma::write::XzEncoder::new(file, 0);
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..512 {
            xz.write_all(&zeros).unwrap();
        }
        xz.finish().unwrap();
    }
    assert!(std::fs::metadata(&blob).unwrap().len() < 1 << 20);
    let before = peak_rss_kib();
    let derived = dir.path().join("derived");
    let err = decompress(
        &blob,
        "Packages.xz",
        &derived,
        "http://archive.test/x",
        1 << 20,
    )
    .unwrap_err();
    let grew = peak_rss_kib().saturating_sub(before);
    assert!(
        err.to_string()
            .contains("decompresses to more than 1048576 bytes"),
        "{err}"
    );
    assert!(grew < 128 << 10, "peak RSS grew by {} MiB", grew >> 10);
    assert!(!derived.exists());
}

#[test]
fn a_gzip_index_of_several_members_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("Packages.gz");
    let mut bytes = Vec::new();
    for part in ["Package: aa\nVersion: 1\n\n", "Package: bb\nVersion: 2\n"] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(part.as_bytes()).unwrap();
        bytes.extend(gz.finish().unwrap());
    }
    std::fs::write(&blob, bytes).unwrap();
    let derived = dir.path().join("derived");
    decompress(
        &blob,
        "Packages.gz",
        &derived,
        "http://archive.test/x",
        1 << 20,
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(&derived).unwrap(),
        "Package: aa\nVersion: 1\n\nPackage: bb\nVersion: 2\n"
    );
}

#[test]
fn a_bad_package_fails_indexing_with_the_message_it_always_had() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad");
    std::fs::write(&path, "Package: aa\nVersion: 1\nArchitecture: amd64\n\nPackage: bb\nVersion: 1\nArchitecture: amd64\nDepends: Bad Name\n").unwrap();
    let failure = index_text(
        &File::open(&path).unwrap(),
        0,
        &mut UniverseBuilder::new("amd64"),
    );
    let Err(IndexFailure::Paragraph(e)) = failure else {
        panic!("expected a paragraph error");
    };
    assert_eq!(
        e.to_string(),
        "package bb: `Bad Name`: invalid package name"
    );
}
