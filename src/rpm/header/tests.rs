use super::*;
use crate::rpm::testkit::{build, Key, ALPHA};

struct Fixture {
    _dir: tempfile::TempDir,
    unsigned: Vec<u8>,
    signed: Vec<u8>,
    key: Key,
    other: Key,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let rpm = build(dir.path(), ALPHA, "noarch").remove(0);
    let unsigned = std::fs::read(&rpm).unwrap();
    let key = Key::generate(dir.path(), "packager");
    let other = Key::generate(dir.path(), "stranger");
    key.sign(&rpm);
    let signed = std::fs::read(&rpm).unwrap();
    Fixture {
        _dir: dir,
        unsigned,
        signed,
        key,
        other,
    }
}

#[test]
fn header_signatures_verify_like_rpm_k() {
    let f = fixture();
    let keys = f.key.public();
    // A signed package verifies from its header bytes alone, naming the key.
    let end = header_end(&f.signed).unwrap();
    assert!(end < f.signed.len());
    assert_eq!(
        verify_header_signature(&f.signed[..end], &keys).unwrap(),
        f.key.fingerprint
    );
    // Unsigned.
    let err = verify_header_signature(&f.unsigned, &keys).unwrap_err();
    assert!(
        matches!(&err, HeaderError::Unsigned { package } if package == "alpha-2:1.2~rc1-3.noarch"),
        "{err}"
    );
    // Signed by a key the repository does not name.
    let err = verify_header_signature(&f.signed, &f.other.public()).unwrap_err();
    let HeaderError::WrongKey { key_id, .. } = &err else {
        panic!("{err}")
    };
    assert!(f.key.fingerprint.ends_with(key_id.as_str()), "{key_id}");
    // One flipped byte of the main header (in the summary text).
    let package = parse(&f.signed).unwrap();
    let at = package.header_start
        + f.signed[package.header_start..end]
            .windows(5)
            .position(|w| w == b"omega")
            .unwrap();
    let mut tampered = f.signed.clone();
    tampered[at] ^= 0x20;
    let err = verify_header_signature(&tampered, &keys).unwrap_err();
    assert!(matches!(err, HeaderError::BadSignature { .. }), "{err}");
    // Without the digest tag's help the signature itself catches it: drop tag 273 by
    // renaming it to an unknown tag number.
    let mut no_digest = tampered.clone();
    let sig_il = be32(&no_digest, LEAD_SIZE + 8) as usize;
    for i in 0..sig_il {
        let at = LEAD_SIZE + 16 + i * 16;
        if be32(&no_digest, at) == SIGTAG_SHA256 {
            no_digest[at..at + 4].copy_from_slice(&9999u32.to_be_bytes());
        }
    }
    let err = verify_header_signature(&no_digest, &keys).unwrap_err();
    assert!(
        matches!(&err, HeaderError::BadSignature { reason, .. } if reason.contains("OpenPGP")),
        "{err}"
    );
}

#[test]
fn headers_parse_with_typed_tags_and_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let rpm = build(dir.path(), ALPHA, "noarch").remove(0);
    let bytes = std::fs::read(&rpm).unwrap();
    let package = parse(&bytes).unwrap();
    let h = &package.header;
    assert_eq!(package.nevra(), "alpha-2:1.2~rc1-3.noarch");
    assert_eq!(h.string(SUMMARY).unwrap(), r#"Alpha & <omega> "quoted""#);
    assert_eq!(h.int(EPOCH), Some(2));
    assert!(h
        .strings(PROVIDENAME)
        .contains(&"virtual-alpha".to_string()));
    let requires = h.strings(REQUIRENAME);
    let flags = h.ints(REQUIREFLAGS);
    assert_eq!(requires.len(), flags.len());
    let tool = requires
        .iter()
        .position(|r| r == "/usr/bin/betatool")
        .unwrap();
    assert_ne!(flags[tool] & SENSE_PRE_MASK, 0, "Requires(pre)");
    assert!(requires.contains(&"(gamma or delta)".to_string()));
    assert_eq!(h.strings(BASENAMES).len(), h.ints(DIRINDEXES).len());
    assert!(h.strings(CHANGELOGTEXT)[0].contains("first"));
    // A prefix too short says how much to read.
    let end = package.header_end;
    match parse(&bytes[..end - 1]) {
        Err(HeaderError::Truncated { needed, .. }) => assert_eq!(needed, end),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse(&bytes[..10]),
        Err(HeaderError::Truncated { needed: 96, .. })
    ));
    // Absurd counts are refused before anything is allocated.
    let mut absurd = bytes.clone();
    absurd[LEAD_SIZE + 8..LEAD_SIZE + 12].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    assert!(matches!(parse(&absurd), Err(HeaderError::Malformed(_))));
    assert!(matches!(
        parse(b"<html>not a package</html>".repeat(10).as_slice()),
        Err(HeaderError::Malformed(_))
    ));
}

#[test]
fn no_flipped_byte_of_the_headers_panics() {
    let f = fixture();
    let keys = f.key.public();
    let end = header_end(&f.signed).unwrap();
    for at in 0..end {
        for value in [0x00, 0xff, f.signed[at] ^ 0x01] {
            let mut mutated = f.signed[..end].to_vec();
            mutated[at] = value;
            if let Ok(package) = parse(&mutated) {
                let h = &package.header;
                for tag in [
                    NAME,
                    REQUIRENAME,
                    REQUIREFLAGS,
                    BASENAMES,
                    DIRINDEXES,
                    FILEMODES,
                ] {
                    let _ = h.get(tag);
                }
            }
            if mutated != f.signed[..end] {
                assert!(
                    verify_header_signature(&mutated, &keys).is_err()
                        || at < LEAD_SIZE
                        || (LEAD_SIZE..parse(&f.signed).unwrap().header_start).contains(&at),
                    "a change at byte {at} of the main header still verifies"
                );
            }
        }
    }
}
