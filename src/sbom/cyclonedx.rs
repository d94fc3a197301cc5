//! CycloneDX 1.5 JSON (<https://cyclonedx.org/docs/1.5/json/>) of a lockfile: one component
//! per image (type `container`, its platform manifests nested), Helm chart (`application`),
//! file (`file`) and Debian package (`library`), each with its purl and SHA-256 hash;
//! `metadata` names the release, the tool and the time given. Pure: the same lockfile and
//! time give the same document.

use super::{purl, serial_number};
use crate::digest::Digest;
use crate::lock::{ImagePin, Lockfile, PlatformPin};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The CycloneDX specification version written.
pub const SPEC_VERSION: &str = "1.5";

/// Media type of the document (the artifactType of the bundle's SBOM entry).
pub const MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";

fn hashes(digest: &Digest) -> Value {
    json!([{"alg": "SHA-256", "content": digest.hex()}])
}

fn property(name: &str, value: impl Into<String>) -> Value {
    json!({"name": name, "value": value.into()})
}

/// The architecture part of `os/arch[/variant]`.
fn arch(platform: &str) -> Option<&str> {
    platform.split('/').nth(1)
}

fn platform_component(pin: &ImagePin, platform: &PlatformPin, carried: &str) -> Value {
    let purl = purl::oci(&pin.reference, &platform.digest, arch(&platform.platform));
    json!({
        "type": "container",
        "bom-ref": format!("image:{}@{}#{}", pin.reference, platform.digest, platform.platform),
        "name": pin.reference,
        "version": platform.digest.to_string(),
        "hashes": hashes(&platform.digest),
        "purl": purl,
        "properties": [
            property("oci:platform", &platform.platform),
            property("oci:mediaType", &platform.media_type),
            property("oci:size", platform.size.to_string()),
            property("outpost:carried", carried),
        ],
    })
}

fn image_component(pin: &ImagePin) -> Value {
    let nested: Vec<Value> = pin
        .platforms
        .iter()
        .map(|p| platform_component(pin, p, "requested platform"))
        .chain(
            pin.also_carried
                .iter()
                .map(|p| platform_component(pin, p, "rest of a digest-pinned index")),
        )
        .collect();
    let mut properties = vec![
        property("oci:mediaType", &pin.media_type),
        property("oci:size", pin.size.to_string()),
    ];
    if let Some(artifact_type) = &pin.artifact_type {
        properties.push(property("oci:artifactType", artifact_type));
    }
    for why in &pin.why {
        properties.push(property("outpost:why", why));
    }
    for referrer in &pin.referrers {
        properties.push(property(
            "outpost:referrer",
            format!("{} {}", referrer.artifact_type, referrer.digest),
        ));
    }
    let mut component = json!({
        "type": "container",
        "bom-ref": format!("image:{}@{}", pin.reference, pin.digest),
        "name": pin.reference,
        "version": pin.digest.to_string(),
        "hashes": hashes(&pin.digest),
        "purl": purl::image(pin),
        "properties": properties,
    });
    if !nested.is_empty() {
        component["components"] = Value::Array(nested);
    }
    component
}

/// The document. `timestamp`: RFC 3339 (`1970-01-01T00:00:00Z`), see [`super::timestamp`].
/// `bom-ref`s are `image:REF@DIGEST`, `chart:SOURCE/NAME@VERSION`, `file:PATH`,
/// `deb:NAME_VERSION_ARCH` and `release`; a pin listed twice appears once.
pub fn document(lock: &Lockfile, timestamp: &str) -> Value {
    let mut components: Vec<Value> = Vec::new();
    let mut refs: BTreeSet<String> = BTreeSet::new();
    let mut add = |component: Value| {
        let bom_ref = component["bom-ref"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if refs.insert(bom_ref) {
            components.push(component);
        }
    };
    for pin in &lock.images {
        add(image_component(pin));
    }
    for pin in &lock.charts {
        let mut properties = vec![property("helm:source", &pin.source)];
        if let Some(repository) = &pin.repository {
            properties.push(property("outpost:chartRepository", repository));
        }
        if let Some(parent) = &pin.dependency_of {
            properties.push(property("outpost:dependencyOf", parent));
        }
        let mut component = json!({
            "type": "application",
            "bom-ref": format!("chart:{}/{}@{}", pin.source, pin.name, pin.version),
            "group": "helm",
            "name": pin.name,
            "version": pin.version,
            "hashes": hashes(&pin.sha256),
            "purl": purl::chart(pin),
            "properties": properties,
        });
        if let Some(url) = &pin.url {
            component["externalReferences"] = json!([{"type": "distribution", "url": url}]);
        }
        add(component);
    }
    for pin in &lock.files {
        add(json!({
            "type": "file",
            "bom-ref": format!("file:{}", pin.path),
            "name": crate::file_plan::file_name(&pin.url),
            "hashes": hashes(&pin.sha256),
            "purl": purl::file(pin),
            "externalReferences": [{"type": "distribution", "url": pin.url}],
            "properties": [
                property("outpost:path", &pin.path),
                property("outpost:size", pin.size.to_string()),
                property("outpost:verifiedBy", &pin.verified_by),
            ],
        }));
    }
    for pin in &lock.debs {
        add(json!({
            "type": "library",
            "bom-ref": format!("deb:{}_{}_{}", pin.name, pin.version, pin.arch),
            "name": pin.name,
            "version": pin.version,
            "hashes": hashes(&pin.sha256),
            "purl": purl::deb(pin),
            "externalReferences": [{"type": "distribution", "url": pin.url}],
            "properties": [
                property("deb:arch", &pin.arch),
                property("outpost:source", &pin.source),
                property("outpost:why", &pin.why),
            ],
        }));
    }
    let mut release_properties = vec![property(
        "outpost:manifestDigest",
        lock.manifest_digest.to_string(),
    )];
    if let Some(kubernetes) = &lock.kubernetes {
        release_properties.push(property("outpost:kubernetesVersion", &kubernetes.version));
    }
    for platform in &lock.platforms {
        release_properties.push(property("outpost:platform", platform));
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial_number(lock),
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{
                "type": "application",
                "name": "outpost",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {
                "type": "application",
                "bom-ref": "release",
                "name": lock.release.name,
                "version": lock.release.version,
                "properties": release_properties,
            },
        },
        "components": components,
        "dependencies": [{"ref": "release", "dependsOn": refs.iter().collect::<Vec<_>>()}],
    })
}
