//! Unit tests of the SBOM documents, on a lockfile with one of each pin.

use super::*;
use crate::digest::Digest;
use crate::lock::{
    ChartPin, DebPin, FilePin, ImagePin, KubernetesPin, PlatformPin, ReleaseId, LOCK_VERSION,
};

fn lockfile() -> Lockfile {
    Lockfile {
        version: LOCK_VERSION,
        release: ReleaseId {
            name: "edge".into(),
            version: "1.0".into(),
        },
        manifest_digest: Digest::of(b"manifest"),
        platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
        kubernetes: Some(KubernetesPin {
            requested: "stable-1.31".into(),
            version: "v1.31.2".into(),
        }),
        images: vec![ImagePin {
            reference: "registry.test:5000/library/alpha:1".into(),
            digest: Digest::of(b"index"),
            media_type: crate::oci::OCI_INDEX.into(),
            size: 300,
            platforms: vec![PlatformPin {
                platform: "linux/arm64/v8".into(),
                digest: Digest::of(b"arm64"),
                media_type: crate::oci::OCI_MANIFEST.into(),
                size: 200,
            }],
            also_carried: Vec::new(),
            artifact_type: None,
            referrers: Vec::new(),
            signatures: Vec::new(),
            why: Vec::new(),
        }],
        files: vec![FilePin {
            url: "https://files.test/v1/tool".into(),
            path: "files.test/v1/tool".into(),
            sha256: Digest::of(b"tool"),
            size: 4,
            verified_by: "sha256 in the manifest".into(),
            insecure: false,
            signature: None,
        }],
        debs: vec![DebPin {
            name: "socat".into(),
            version: "1.7.4.4-2+b1".into(),
            arch: "amd64".into(),
            path: "pool/main/s/socat/socat_1.7.4.4-2+b1_amd64.deb".into(),
            url: "http://deb.test/debian/pool/main/s/socat/socat_1.7.4.4-2+b1_amd64.deb".into(),
            sha256: Digest::of(b"socat"),
            size: 5,
            source: "http://deb.test/debian bookworm".into(),
            why: "requested".into(),
            control: "Package: socat\n".into(),
        }],
        charts: vec![ChartPin {
            name: "demo".into(),
            version: "1.2.3".into(),
            source: "https://charts.test/stable".into(),
            repository: Some("stable".into()),
            reference: "charts.test/stable/demo:1.2.3".into(),
            url: Some("https://charts.test/stable/demo-1.2.3.tgz".into()),
            sha256: Digest::of(b"demo"),
            size: 4,
            manifest: None,
            created: None,
            metadata: serde_json::json!({"name": "demo", "version": "1.2.3"}),
            provenance: None,
            dependency_of: None,
            images: Vec::new(),
            unevaluated: Vec::new(),
        }],
        rpms: Vec::new(),
        rpm_repos: Vec::new(),
        trusted_root: None,
    }
}

fn find<'a>(components: &'a serde_json::Value, purl_prefix: &str) -> &'a serde_json::Value {
    components
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purl"].as_str().unwrap().starts_with(purl_prefix))
        .unwrap_or_else(|| panic!("no component {purl_prefix} in {components:#}"))
}

#[test]
fn cyclonedx_lists_every_pin_with_its_purl_and_sha256() {
    let lock = lockfile();
    let doc = cyclonedx(&lock, "2024-01-01T00:00:00Z");
    assert_eq!(doc["bomFormat"], "CycloneDX");
    assert_eq!(doc["specVersion"], "1.5");
    assert_eq!(doc["metadata"]["timestamp"], "2024-01-01T00:00:00Z");
    assert_eq!(doc["metadata"]["component"]["name"], "edge");
    assert_eq!(doc["metadata"]["component"]["version"], "1.0");
    assert_eq!(doc["metadata"]["tools"]["components"][0]["name"], "outpost");
    let components = &doc["components"];
    assert_eq!(components.as_array().unwrap().len(), 4);

    let image = find(components, "pkg:oci/alpha@");
    assert_eq!(
        image["purl"],
        format!(
            "pkg:oci/alpha@sha256%3A{}?repository_url=registry.test:5000/library/alpha&tag=1",
            Digest::of(b"index").hex()
        )
    );
    assert_eq!(image["hashes"][0]["alg"], "SHA-256");
    assert_eq!(image["hashes"][0]["content"], Digest::of(b"index").hex());
    let platform = &image["components"][0];
    assert_eq!(platform["hashes"][0]["content"], Digest::of(b"arm64").hex());
    assert!(platform["purl"].as_str().unwrap().contains("?arch=arm64&"));

    let file = find(components, "pkg:generic/tool");
    assert_eq!(
        file["purl"],
        format!(
            "pkg:generic/tool?checksum=sha256:{}&download_url=https://files.test/v1/tool",
            Digest::of(b"tool").hex()
        )
    );
    let deb = find(components, "pkg:deb/debian/socat@");
    assert_eq!(
        deb["purl"],
        "pkg:deb/debian/socat@1.7.4.4-2%2Bb1?arch=amd64"
    );
    assert_eq!(deb["hashes"][0]["content"], Digest::of(b"socat").hex());
    let chart = find(components, "pkg:helm/demo@1.2.3");
    assert_eq!(chart["hashes"][0]["content"], Digest::of(b"demo").hex());

    let depends = doc["dependencies"][0]["dependsOn"].as_array().unwrap();
    assert_eq!(depends.len(), 4);
    let serial = doc["serialNumber"].as_str().unwrap();
    assert!(
        serial.starts_with("urn:uuid:") && serial.len() == 45,
        "{serial}"
    );
    assert_eq!(&serial[23..24], "5");
}

#[test]
fn the_same_lockfile_and_time_give_the_same_bytes() {
    let lock = lockfile();
    let a = render(&lock, Format::CycloneDx, "1970-01-01T00:00:00Z");
    assert_eq!(a, render(&lock, Format::CycloneDx, "1970-01-01T00:00:00Z"));
    let mut other = lock.clone();
    other.release.version = "1.1".into();
    let b = render(&other, Format::CycloneDx, "1970-01-01T00:00:00Z");
    assert_ne!(a, b);
}

#[test]
fn a_pin_listed_twice_is_one_component() {
    let mut lock = lockfile();
    lock.images.push(lock.images[0].clone());
    let doc = cyclonedx(&lock, "1970-01-01T00:00:00Z");
    assert_eq!(doc["components"].as_array().unwrap().len(), 4);
}

#[test]
fn spdx_has_a_package_per_pin_contained_in_the_release() {
    let doc = spdx(&lockfile(), "1970-01-01T00:00:00Z");
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["creationInfo"]["created"], "1970-01-01T00:00:00Z");
    let packages = doc["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 5);
    assert_eq!(packages[0]["SPDXID"], "SPDXRef-Release");
    let deb = packages.iter().find(|p| p["name"] == "socat").unwrap();
    assert_eq!(deb["checksums"][0]["algorithm"], "SHA256");
    assert_eq!(
        deb["externalRefs"][0]["referenceLocator"],
        "pkg:deb/debian/socat@1.7.4.4-2%2Bb1?arch=amd64"
    );
    let contains = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "CONTAINS")
        .count();
    assert_eq!(contains, 4);
}

#[test]
fn the_time_comes_from_source_date_epoch_or_is_the_epoch() {
    assert_eq!(timestamp(None).unwrap(), "1970-01-01T00:00:00Z");
    assert_eq!(
        timestamp(Some("1700000000")).unwrap(),
        "2023-11-14T22:13:20Z"
    );
    assert!(matches!(
        timestamp(Some("yesterday")),
        Err(SbomError::BadEpoch { .. })
    ));
}
