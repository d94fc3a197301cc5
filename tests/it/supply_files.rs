//! Signed `files:` entries: a real public-good Sigstore bundle (the `sigstore` npm package's
//! provenance) and a key-signed file made with openssl, served from a loopback server and
//! verified by `outpost lock` offline against the trusted root it ships.

use crate::common::{
    ec_key_pair, key_fingerprint, outpost_fails, outpost_ok, require, StaticServer,
};
use std::path::Path;
use std::process::Command;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sigstore");
const TARBALL: &str = "sigstore-5.0.0.tgz";
const IDENTITY: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
/// `ExitStatus::Verify`.
const VERIFY: i32 = 3;

fn manifest(work: &Path, port: u16, file: &str, signature: &str, verify: &str) {
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1\"}}\nspec:\n  files:\n    - url: http://files.test/{file}\n      signature: {signature}\n      verify: {verify}\n  upstreams: {{files.test: \"http://127.0.0.1:{port}\"}}\n"
        ),
    )
    .unwrap();
}

fn keyless(issuer: &str, identity: &str) -> String {
    format!("{{keyless: {{issuer: \"{issuer}\", identity: \"{identity}\"}}}}")
}

fn lockfile(work: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(work.join("edge.lock")).unwrap()).unwrap()
}

#[test]
fn a_real_sigstore_bundle_verifies_a_file_and_tampering_identity_or_issuer_fail() {
    let served = tempfile::tempdir().unwrap();
    for name in [TARBALL, &format!("{TARBALL}.sigstore.json")] {
        std::fs::copy(Path::new(FIXTURES).join(name), served.path().join(name)).unwrap();
    }
    let upstream = StaticServer::start(served.path().to_path_buf());
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let url = format!("http://files.test/{TARBALL}");
    let bundle = "{bundle: \"{url}.sigstore.json\"}";

    // Another identity, another issuer: refused, naming the file and both sides.
    let other = "https://github.com/acme/tools/.github/workflows/release.yml@refs/heads/main";
    manifest(
        work,
        upstream.port,
        TARBALL,
        bundle,
        &keyless(ISSUER, other),
    );
    let err = outpost_fails(work, &["lock", "edge.yaml"], VERIFY);
    assert_eq!(err, format!("error: {url}: signature not verified: bundle {url}.sigstore.json: the signing certificate was issued to `{IDENTITY}`, but the policy expects `{other}`\n"));
    assert!(!work.join("edge.lock").exists());
    manifest(
        work,
        upstream.port,
        TARBALL,
        bundle,
        &keyless("https://accounts.google.com", IDENTITY),
    );
    let err = outpost_fails(work, &["lock", "edge.yaml"], VERIFY);
    assert_eq!(err, format!("error: {url}: signature not verified: bundle {url}.sigstore.json: the signing certificate was issued for issuer `{ISSUER}`, but the policy expects issuer `https://accounts.google.com`\n"));
    assert!(!work.join("edge.lock").exists());

    // One byte of the served tarball changed: no subject of the provenance names it.
    let mut tampered = std::fs::read(Path::new(FIXTURES).join(TARBALL)).unwrap();
    tampered[200] ^= 0x20;
    std::fs::write(served.path().join(TARBALL), &tampered).unwrap();
    manifest(
        work,
        upstream.port,
        TARBALL,
        bundle,
        &keyless(ISSUER, IDENTITY),
    );
    let err = outpost_fails(work, &["lock", "edge.yaml"], VERIFY);
    assert_eq!(err, format!("error: {url}: signature not verified: bundle {url}.sigstore.json: no subject of the attestation has the artifact's digest\n"));
    assert!(!work.join("edge.lock").exists());

    // The real tarball, the real identity and issuer: locked, the signer recorded.
    std::fs::copy(
        Path::new(FIXTURES).join(TARBALL),
        served.path().join(TARBALL),
    )
    .unwrap();
    let out = outpost_ok(work, &["lock", "edge.yaml"]);
    assert_eq!(
        out,
        "locked 1 file into edge.lock\nupstream signatures hold for 1 file (checked offline)\n"
    );
    let lock = lockfile(work);
    let pin = &lock["files"][0];
    assert_eq!(
        pin["verified_by"],
        format!("keyless signature by {IDENTITY} ({ISSUER}), Rekor log index 1697019812")
    );
    assert_eq!(
        pin["signature"]["signer"],
        serde_json::json!({"method": {"keyless": {"identity": IDENTITY, "issuer": ISSUER}},
            "logIndex": 1697019812, "integratedTime": 1780347770})
    );
    assert_eq!(
        pin["signature"]["material"][0]["url"],
        format!("{url}.sigstore.json")
    );
    assert!(pin.get("insecure").is_none());
}

#[test]
fn a_key_signed_file_verifies_with_its_key_only() {
    require("openssl");
    let served = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    std::fs::write(served.path().join("tool"), b"tool bytes\n").unwrap();
    for name in ["signer", "other"] {
        ec_key_pair(work, name);
    }
    let openssl = |args: &[&str], dir: &Path| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap();
        assert!(status.success(), "openssl {args:?}");
    };
    let signer_key = work.join("signer.key");
    openssl(
        &[
            "dgst",
            "-sha256",
            "-sign",
            signer_key.to_str().unwrap(),
            "-out",
            "tool.sig",
            "tool",
        ],
        served.path(),
    );
    let upstream = StaticServer::start(served.path().to_path_buf());
    let url = "http://files.test/tool";

    manifest(
        work,
        upstream.port,
        "tool",
        "{sig: \"{url}.sig\"}",
        "{key: other.pub}",
    );
    let err = outpost_fails(work, &["lock", "edge.yaml"], VERIFY);
    assert_eq!(err, format!("error: {url}: signature not verified: signature {url}.sig: the signature over the file does not verify with the expected key (another key made it, or what it signs changed)\n"));
    assert!(!work.join("edge.lock").exists());

    manifest(
        work,
        upstream.port,
        "tool",
        "{sig: \"{url}.sig\"}",
        "{key: signer.pub}",
    );
    outpost_ok(work, &["lock", "edge.yaml"]);
    let lock = lockfile(work);
    let verified_by = lock["files"][0]["verified_by"]
        .as_str()
        .unwrap()
        .to_string();
    let fingerprint = lock["files"][0]["signature"]["signer"]["method"]["key"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        verified_by,
        format!("signature by key sha256:{fingerprint}")
    );
    // The fingerprint is the sha256 of the key's SPKI DER, as openssl computes it.
    assert_eq!(fingerprint, key_fingerprint(&work.join("signer.pub")));
}
