//! SPDX 2.3 JSON (<https://spdx.github.io/spdx-spec/v2.3/>) of a lockfile: a package for the
//! release that `CONTAINS` one package per image, Helm chart, file and Debian package, each
//! with its SHA256 checksum and purl (`externalRefs`, `PACKAGE-MANAGER`/`purl`). Pure: the
//! same lockfile and time give the same document.

use super::{purl, serial_number};
use crate::digest::Digest;
use crate::lock::Lockfile;
use serde_json::{json, Value};

/// The SPDX version written.
pub const SPDX_VERSION: &str = "SPDX-2.3";

/// Media type of the document.
pub const MEDIA_TYPE: &str = "application/spdx+json";

struct Package<'a> {
    name: &'a str,
    version: Option<&'a str>,
    download: Option<&'a str>,
    sha256: &'a Digest,
    purl: String,
    purpose: &'a str,
}

fn package(id: &str, p: Package) -> Value {
    let mut value = json!({
        "name": p.name,
        "SPDXID": id,
        "downloadLocation": p.download.unwrap_or("NOASSERTION"),
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": p.purpose,
        "checksums": [{"algorithm": "SHA256", "checksumValue": p.sha256.hex()}],
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": p.purl,
        }],
    });
    if let Some(version) = p.version {
        value["versionInfo"] = json!(version);
    }
    value
}

/// The document. `timestamp`: RFC 3339 UTC (`1970-01-01T00:00:00Z`). Package ids are
/// `SPDXRef-Release`, `SPDXRef-Image-N`, `SPDXRef-Chart-N`, `SPDXRef-File-N`,
/// `SPDXRef-Deb-N` (N counts from 1 in lockfile order).
pub fn document(lock: &Lockfile, timestamp: &str) -> Value {
    let mut packages: Vec<(String, Value)> = Vec::new();
    for (i, pin) in lock.images.iter().enumerate() {
        let version = pin.digest.to_string();
        let id = format!("SPDXRef-Image-{}", i + 1);
        let value = package(
            &id,
            Package {
                name: &pin.reference,
                version: Some(&version),
                download: None,
                sha256: &pin.digest,
                purl: purl::image(pin),
                purpose: "CONTAINER",
            },
        );
        packages.push((id, value));
    }
    for (i, pin) in lock.charts.iter().enumerate() {
        let id = format!("SPDXRef-Chart-{}", i + 1);
        let value = package(
            &id,
            Package {
                name: &pin.name,
                version: Some(&pin.version),
                download: pin.url.as_deref(),
                sha256: &pin.sha256,
                purl: purl::chart(pin),
                purpose: "APPLICATION",
            },
        );
        packages.push((id, value));
    }
    for (i, pin) in lock.files.iter().enumerate() {
        let id = format!("SPDXRef-File-{}", i + 1);
        let value = package(
            &id,
            Package {
                name: crate::file_plan::file_name(&pin.url),
                version: None,
                download: Some(&pin.url),
                sha256: &pin.sha256,
                purl: purl::file(pin),
                purpose: "FILE",
            },
        );
        packages.push((id, value));
    }
    for (i, pin) in lock.debs.iter().enumerate() {
        let id = format!("SPDXRef-Deb-{}", i + 1);
        let value = package(
            &id,
            Package {
                name: &pin.name,
                version: Some(&pin.version),
                download: Some(&pin.url),
                sha256: &pin.sha256,
                purl: purl::deb(pin),
                purpose: "LIBRARY",
            },
        );
        packages.push((id, value));
    }
    let release = json!({
        "name": lock.release.name,
        "SPDXID": "SPDXRef-Release",
        "versionInfo": lock.release.version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "APPLICATION",
    });
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Release",
    })];
    relationships.extend(packages.iter().map(|(id, _)| {
        json!({
            "spdxElementId": "SPDXRef-Release",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        })
    }));
    let name = format!("{}-{}", lock.release.name, lock.release.version);
    let uuid = serial_number(lock);
    let uuid = uuid.trim_start_matches("urn:uuid:");
    json!({
        "spdxVersion": SPDX_VERSION,
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("https://spdx.org/spdxdocs/outpost/{name}-{uuid}"),
        "creationInfo": {
            "created": timestamp,
            "creators": [format!("Tool: outpost-{}", env!("CARGO_PKG_VERSION"))],
        },
        "documentDescribes": ["SPDXRef-Release"],
        "packages": std::iter::once(release)
            .chain(packages.into_iter().map(|(_, v)| v))
            .collect::<Vec<_>>(),
        "relationships": relationships,
    })
}
