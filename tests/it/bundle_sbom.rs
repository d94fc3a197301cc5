//! `bundle build --sbom` and `bundle sbom`: a bundle of images (a real registry), a file and
//! Debian packages (a signed archive the test builds with dpkg-deb) carries a CycloneDX 1.5
//! SBOM under its signature; `bundle sbom` writes the same document, which the CycloneDX
//! Python library's bundled 1.5 JSON schema accepts, listing every image, file and package
//! with its purl and sha256; the SPDX 2.3 document lists them as packages.

use crate::common::*;
use std::path::Path;
use std::process::Command;

const EPOCH: (&str, &str) = ("SOURCE_DATE_EPOCH", "1700000000");

/// Validates a CycloneDX 1.5 JSON document with cyclonedx-python-lib's strict validator
/// (its bundled schemas); prints the error and exits 1 when it does not hold.
const VALIDATE: &str = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())
if error is not None:
    print(error)
    sys.exit(1)
"#;

fn require_cyclonedx_python() {
    require("python3");
    let probe = Command::new("python3")
        .args(["-c", "import cyclonedx.validation.json, jsonschema"])
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "cyclonedx-python-lib[json-validation] is required by the integration tests: run scripts/test.sh, which installs it"
    );
}

/// A signed suite archive with two packages for amd64; returns its server.
fn archive(work: &Path) -> ArchiveServer {
    let root = work.join("archive");
    let packages = build_debs(
        &root.join("debian"),
        &[
            TestDeb::new("sbom-tool", "1.0+b1", "amd64", "Depends: sbom-lib\n"),
            TestDeb::new("sbom-lib", "2.0", "all", ""),
        ],
        Some("amd64"),
    );
    write_signed_indexes(
        work,
        &root.join("debian/dists/stable"),
        &as_refs(&packages_files("main/binary-amd64/", &packages)),
        ReleaseSignature::InRelease,
    );
    ArchiveServer::start(&root, false)
}

fn components(doc: &serde_json::Value) -> &Vec<serde_json::Value> {
    doc["components"].as_array().unwrap()
}

/// The component with this purl, whose SHA-256 hash is `sha256` (`sha256:<hex>`).
fn assert_listed(doc: &serde_json::Value, purl: &str, sha256: &str) {
    let found = components(doc)
        .iter()
        .find(|c| c["purl"] == purl)
        .unwrap_or_else(|| panic!("no component {purl} in {doc:#}"));
    assert_eq!(found["hashes"][0]["alg"], "SHA-256", "{found:#}");
    assert_eq!(
        found["hashes"][0]["content"],
        sha256.trim_start_matches("sha256:"),
        "{found:#}"
    );
}

#[test]
fn bundle_sbom_lists_every_image_file_and_package_and_validates() {
    require_cyclonedx_python();
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    keys(work);
    seed_set(&registry, &work.join("layouts"), &["--set", "test"], None);
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("tool"), b"tool bytes").unwrap();
    let file_server = StaticServer::start(files.path().to_path_buf());
    let archive = archive(work);
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1.0\"}}\nspec:\n  platforms: [linux/amd64]\n  images: [registry.test/library/alpha:1, registry.test/team/beta:1]\n  files:\n    - url: http://files.test/tool\n      checksum: {{sha256: {}}}\n  packages:\n    apt:\n      - url: {}/debian\n        suite: stable\n        components: [main]\n        keyring: {}\n        packages: [sbom-tool]\n  upstreams: {{registry.test: \"http://127.0.0.1:{}\", files.test: \"http://127.0.0.1:{}\"}}\n",
            sha256_hex(b"tool bytes"),
            archive.url(),
            work.join("keys/outpost-apt.gpg").display(),
            registry.port,
            file_server.port
        ),
    )
    .unwrap();

    // Built with --sbom: the SBOM is an artifact under the bundle's signature.
    let out = outpost_env(work, &["bundle", "build", "edge.yaml", "--sbom"], &[EPOCH]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    outpost_ok(
        work,
        &[
            "bundle",
            "verify",
            "bundles/edge-1.0.tar",
            "--key",
            "keys/outpost.pub",
        ],
    );
    let inspected = json(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/edge-1.0.tar", "--json"],
    ));
    let carried = inspected["sbom"].as_str().expect("inspect names the SBOM");
    let text = outpost_ok(work, &["bundle", "inspect", "bundles/edge-1.0.tar"]);
    assert!(
        text.contains(&format!("sbom:      CycloneDX 1.5 document {carried}")),
        "{text}"
    );

    // `bundle sbom` writes the same document (same lockfile, same time).
    let out = outpost_env(
        work,
        &[
            "bundle",
            "sbom",
            "bundles/edge-1.0.tar",
            "--format",
            "cyclonedx",
            "--out",
            "edge.cdx.json",
        ],
        &[EPOCH],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = work.join("edge.cdx.json");
    assert_eq!(sha256_file(&path), carried);
    run_ok(Command::new("python3").args(["-c", VALIDATE]).arg(&path));

    let doc = read_json(&path);
    assert_eq!(doc["specVersion"], "1.5");
    assert_eq!(doc["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(doc["metadata"]["component"]["name"], "edge");
    assert_eq!(doc["metadata"]["component"]["version"], "1.0");
    assert_eq!(doc["metadata"]["tools"]["components"][0]["name"], "outpost");
    let lock = read_json(&work.join("edge.lock"));
    let images = lock["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    for pin in images {
        let reference = pin["reference"].as_str().unwrap();
        let digest = pin["digest"].as_str().unwrap();
        let (repository, tag) = reference.rsplit_once(':').unwrap();
        let name = repository.rsplit('/').next().unwrap();
        let purl = format!(
            "pkg:oci/{name}@{}?repository_url={repository}&tag={tag}",
            digest.replace(':', "%3A")
        );
        assert_listed(&doc, &purl, digest);
    }
    let file = &lock["files"][0];
    assert_listed(
        &doc,
        &format!(
            "pkg:generic/tool?checksum=sha256:{}&download_url=http://files.test/tool",
            sha256_hex(b"tool bytes").trim_start_matches("sha256:")
        ),
        file["sha256"].as_str().unwrap(),
    );
    let debs = lock["debs"].as_array().unwrap();
    assert_eq!(debs.len(), 2, "sbom-tool and what it depends on");
    for pin in debs {
        let purl = format!(
            "pkg:deb/debian/{}@{}?arch={}",
            pin["name"].as_str().unwrap(),
            pin["version"].as_str().unwrap().replace('+', "%2B"),
            pin["arch"].as_str().unwrap()
        );
        assert_listed(&doc, &purl, pin["sha256"].as_str().unwrap());
    }

    // SPDX 2.3 on standard output: a package per pin, each with its purl and SHA256.
    let spdx = json(&outpost_ok(
        work,
        &["bundle", "sbom", "bundles/edge-1.0.tar", "--format", "spdx"],
    ));
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    let packages = spdx["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 1 + images.len() + 1 + debs.len());
    for pin in debs.iter().chain(images).chain([file]) {
        let sha256 = pin
            .get("sha256")
            .unwrap_or(&pin["digest"])
            .as_str()
            .unwrap();
        let hex = sha256.trim_start_matches("sha256:");
        assert!(
            packages
                .iter()
                .any(|p| p["checksums"][0]["checksumValue"] == hex
                    && p["externalRefs"][0]["referenceType"] == "purl"),
            "{hex} not in {spdx:#}"
        );
    }

    // A time that is no number of seconds is named, as wrong input.
    let out = outpost_env(
        work,
        &["bundle", "sbom", "bundles/edge-1.0.tar"],
        &[("SOURCE_DATE_EPOCH", "yesterday")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SOURCE_DATE_EPOCH=yesterday"), "{stderr}");

    // A bundle built without --sbom carries none; inspect says nothing of one.
    outpost_ok(work, &["bundle", "build", "edge.yaml", "--locked"]);
    let inspected = json(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/edge-1.0.tar", "--json"],
    ));
    assert!(inspected["sbom"].is_null());
}
