//! Tests of `helm::provenance`, with keys made here.

use super::*;
use pgp::composed::{
    ArmorOptions, KeyType, SecretKeyParamsBuilder, SignedSecretKey, SubkeyParamsBuilder,
};
use pgp::ser::Serialize as _;
use pgp::types::Password;

const ARCHIVE: &[u8] = b"the bytes of demo-0.1.0.tgz";

/// A signing key; with `subkey`, also a signing subkey.
fn key(user: &str, subkey: bool) -> SignedSecretKey {
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(user.into());
    if subkey {
        params.subkey(
            SubkeyParamsBuilder::default()
                .key_type(KeyType::Ed25519Legacy)
                .can_sign(true)
                .build()
                .unwrap(),
        );
    }
    params
        .build()
        .unwrap()
        .generate(rand::thread_rng())
        .unwrap()
}

fn binary_keyring(key: &SignedSecretKey) -> Vec<u8> {
    let mut out = Vec::new();
    key.to_public_key().to_writer(&mut out).unwrap();
    out
}

fn body(files: &str) -> String {
    format!("apiVersion: v2\ndescription: A demo\nname: demo\nversion: 0.1.0\n\n...\n{files}")
}

fn files_for(digest: &Digest) -> String {
    format!("files:\n  demo-0.1.0.tgz: {digest}\n")
}

/// A `.prov` as `helm package --sign` writes it: the body clear-signed.
fn sign(text: &str, signer: &impl pgp::types::SigningKey) -> Vec<u8> {
    CleartextSignedMessage::sign(rand::thread_rng(), text, signer, &Password::empty())
        .unwrap()
        .to_armored_string(ArmorOptions::default())
        .unwrap()
        .into_bytes()
}

fn fingerprint(key: &SignedSecretKey) -> String {
    format!("{:X}", key.primary_key.fingerprint())
}

#[test]
fn a_signed_provenance_names_its_signer() {
    let signer = key("Chart Signer <signer@example.com>", false);
    let digest = Digest::of(ARCHIVE);
    let prov = sign(&body(&files_for(&digest)), &signer.primary_key);
    let want = format!(
        "Chart Signer <signer@example.com> ({})",
        fingerprint(&signer)
    );
    let binary = binary_keyring(&signer);
    let armored = signer
        .to_public_key()
        .to_armored_string(ArmorOptions::default())
        .unwrap();
    for keyring in [&binary[..], armored.as_bytes()] {
        assert_eq!(
            verify(&prov, keyring, "demo-0.1.0.tgz", &digest).unwrap(),
            want
        );
    }
    // Among other keys, in one keyring.
    let mut both = binary_keyring(&key("Other <o@example.com>", false));
    both.extend(binary);
    assert_eq!(
        verify(&prov, &both, "demo-0.1.0.tgz", &digest).unwrap(),
        want
    );
}

#[test]
fn a_signing_subkey_counts_for_its_key() {
    let signer = key("Sub Signer <sub@example.com>", true);
    let digest = Digest::of(ARCHIVE);
    let prov = sign(&body(&files_for(&digest)), &signer.secret_subkeys[0].key);
    let got = verify(&prov, &binary_keyring(&signer), "demo-0.1.0.tgz", &digest).unwrap();
    assert_eq!(
        got,
        format!("Sub Signer <sub@example.com> ({})", fingerprint(&signer))
    );
}

#[test]
fn a_tampered_body_is_a_bad_signature_naming_the_key() {
    let signer = key("Chart Signer <signer@example.com>", false);
    let digest = Digest::of(ARCHIVE);
    let prov = String::from_utf8(sign(&body(&files_for(&digest)), &signer.primary_key)).unwrap();
    let tampered = prov.replace("description: A demo", "description: A trap");
    let err = verify(
        tampered.as_bytes(),
        &binary_keyring(&signer),
        "demo-0.1.0.tgz",
        &digest,
    )
    .unwrap_err();
    let ProvenanceError::BadSignature { key_ids } = &err else {
        panic!("{err}")
    };
    assert_eq!(key_ids, &[signer.primary_key.legacy_key_id().to_string()]);
    assert!(err.to_string().contains(&key_ids[0]), "{err}");
}

#[test]
fn a_key_missing_from_the_keyring_is_named() {
    let signer = key("Chart Signer <signer@example.com>", false);
    let digest = Digest::of(ARCHIVE);
    let prov = sign(&body(&files_for(&digest)), &signer.primary_key);
    let other = binary_keyring(&key("Other <o@example.com>", false));
    let err = verify(&prov, &other, "demo-0.1.0.tgz", &digest).unwrap_err();
    let ProvenanceError::NoKey { key_ids } = &err else {
        panic!("{err}")
    };
    assert_eq!(key_ids, &[signer.primary_key.legacy_key_id().to_string()]);
    assert!(err.to_string().contains("not in the keyring"), "{err}");
}

#[test]
fn the_files_section_must_name_the_archive_with_its_digest() {
    let signer = key("Chart Signer <signer@example.com>", false);
    let keyring = binary_keyring(&signer);
    let digest = Digest::of(ARCHIVE);
    let prov = sign(&body(&files_for(&digest)), &signer.primary_key);
    let other = Digest::of(b"other bytes");
    let err = verify(&prov, &keyring, "demo-0.1.0.tgz", &other).unwrap_err();
    let ProvenanceError::DigestMismatch {
        file,
        expected,
        actual,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(file, "demo-0.1.0.tgz");
    assert_eq!(expected, &digest.to_string());
    assert_eq!(actual, &other.to_string());
    let err = verify(&prov, &keyring, "demo-0.2.0.tgz", &digest).unwrap_err();
    assert!(
        matches!(&err, ProvenanceError::NotListed { file, listed }
            if file == "demo-0.2.0.tgz" && listed == &["demo-0.1.0.tgz"]),
        "{err}"
    );
}

#[test]
fn what_is_not_a_provenance_is_malformed() {
    let signer = key("Chart Signer <signer@example.com>", false);
    let keyring = binary_keyring(&signer);
    let digest = Digest::of(ARCHIVE);
    let no_separator = sign("apiVersion: v2\nname: demo\n", &signer.primary_key);
    let bad_files = sign(&body("files: [\n"), &signer.primary_key);
    for (what, prov) in [
        ("plain text", b"apiVersion: v2\nname: demo\n".to_vec()),
        ("not utf-8", vec![0xff, 0xfe, 0x00]),
        ("no separator", no_separator),
        ("bad files yaml", bad_files),
    ] {
        let err = verify(&prov, &keyring, "demo-0.1.0.tgz", &digest).unwrap_err();
        assert!(
            matches!(err, ProvenanceError::Malformed { .. }),
            "{what}: {err}"
        );
    }
    let prov = sign(&body(&files_for(&digest)), &signer.primary_key);
    for keyring in [&b""[..], b"not a key"] {
        let err = verify(&prov, keyring, "demo-0.1.0.tgz", &digest).unwrap_err();
        assert!(matches!(err, ProvenanceError::Keyring { .. }), "{err}");
    }
}
