//! Referrers travel with their subject: an image signed upstream the way cosign signs (a
//! `sha256-<hex>.sig` simple-signing manifest, ECDSA P-256 made with openssl) and an SBOM
//! pushed as an OCI 1.1 referrer through the referrers tag schema (distribution 2.8 has no
//! referrers API) are pinned by `lock`, carried, served (cosign tag and referrers API, with
//! the `artifactType` filter) so stock openssl verifies the signature at the site, and pushed
//! to another registry with the tag-schema index.

use crate::common::*;
use base64::Engine;
use std::path::Path;
use std::process::Command;

const IMAGE: &str = "library/alpha:1";
const SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const SPDX: &str = "application/spdx+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Uploads `bytes` as a blob of `repo`; returns its descriptor fields `(digest, size)`.
fn put_blob(registry: &Registry, repo: &str, bytes: &[u8]) -> (String, usize) {
    (registry.put_blob(repo, bytes), bytes.len())
}

/// Puts a manifest under `reference` (tag or digest) of `repo`; returns its digest.
fn put_manifest(
    registry: &Registry,
    repo: &str,
    reference: &str,
    manifest: &serde_json::Value,
) -> String {
    let bytes = serde_json::to_vec(manifest).unwrap();
    let media_type = manifest["mediaType"].as_str().unwrap();
    registry.put_manifest(repo, reference, media_type, &bytes)
}

/// What the publisher pushed next to the image.
struct Published {
    /// The cosign signature manifest's digest, tagged `sha256-<hex>.sig`.
    signature: String,
    sbom: String,
    /// A cosign signature of the SBOM (a chain: image ← SBOM ← signature).
    sbom_signature: String,
}

/// Signs `subject` in `repo` the way cosign does, with `key.pem` in `work`: a simple-signing
/// payload naming the digest, its ECDSA P-256 signature (openssl) in the layer annotation,
/// the manifest tagged `sha256-<hex>.sig`. Returns the signature manifest's digest.
fn cosign_sign(work: &Path, registry: &Registry, repo: &str, subject: &str) -> String {
    let hex = subject.trim_start_matches("sha256:");
    let payload = serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": {"docker-reference": format!("registry.test/{repo}")},
            "image": {"docker-manifest-digest": subject},
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .unwrap();
    std::fs::write(work.join("payload.json"), &payload).unwrap();
    run_ok(Command::new("openssl").current_dir(work).args([
        "dgst",
        "-sha256",
        "-sign",
        "key.pem",
        "-out",
        "upstream.sig",
        "payload.json",
    ]));
    let signature = std::fs::read(work.join("upstream.sig")).unwrap();
    let signature = base64::engine::general_purpose::STANDARD.encode(signature);
    let (payload_digest, payload_size) = put_blob(registry, repo, &payload);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "", "os": "", "config": {},
        "created": "0001-01-01T00:00:00Z",
        "rootfs": {"type": "layers", "diff_ids": [payload_digest]},
    }))
    .unwrap();
    let (config_digest, config_size) = put_blob(registry, repo, &config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{
            "mediaType": SIMPLESIGNING, "digest": payload_digest, "size": payload_size,
            "annotations": {"dev.cosignproject.cosign/signature": signature},
        }],
    });
    put_manifest(registry, repo, &format!("sha256-{hex}.sig"), &manifest)
}

/// Signs `library/alpha:1` the way cosign does (key `key.pem` in `work`, made with openssl)
/// and attaches an SPDX SBOM through the referrers tag schema, as oras does against a
/// registry without the referrers API; the SBOM is signed too.
fn publish(work: &Path, registry: &Registry, subject: &str, subject_size: u64) -> Published {
    require("openssl");
    let repo = "library/alpha";
    let hex = subject.trim_start_matches("sha256:");
    run_ok(Command::new("openssl").current_dir(work).args([
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "key.pem",
    ]));
    run_ok(
        Command::new("openssl")
            .current_dir(work)
            .args(["ec", "-in", "key.pem", "-pubout", "-out", "pub.pem"]),
    );
    let signature = cosign_sign(work, registry, repo, subject);

    let spdx = br#"{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"alpha","packages":[]}"#;
    let (sbom_digest, sbom_size) = put_blob(registry, repo, spdx);
    let (empty_digest, empty_size) = put_blob(registry, repo, b"{}");
    let sbom_manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SPDX,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": empty_size},
        "layers": [{"mediaType": SPDX, "digest": sbom_digest, "size": sbom_size}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
    });
    let sbom_bytes = serde_json::to_vec(&sbom_manifest).unwrap();
    let sbom = format!("sha256:{}", sha256_hex(&sbom_bytes));
    put_manifest(registry, repo, &sbom, &sbom_manifest);
    let schema_index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": sbom, "size": sbom_bytes.len(), "artifactType": SPDX}],
    });
    put_manifest(registry, repo, &format!("sha256-{hex}"), &schema_index);
    let sbom_signature = cosign_sign(work, registry, repo, &sbom);
    Published {
        signature,
        sbom,
        sbom_signature,
    }
}

/// The referrers the lockfile pins under its `n`th image: `(kind, digest, tag)`.
fn pinned(work: &Path, n: usize) -> Vec<(String, String, Option<String>)> {
    let lock = read_json(&work.join("edge.lock"));
    let image = &lock["images"][n];
    image["referrers"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| {
                    (
                        r["kind"].as_str().unwrap().to_string(),
                        r["digest"].as_str().unwrap().to_string(),
                        r["tag"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn signatures_and_sboms_travel_with_their_image_and_verify_at_the_site() {
    let site = Site::new();
    let work = site.work();
    let registry = &site.registry;
    let alpha = site.image(IMAGE);
    let top = read_json(&alpha.layout.join("index.json"));
    let subject = top["manifests"][0]["digest"].as_str().unwrap().to_string();
    let subject_size = top["manifests"][0]["size"].as_u64().unwrap();
    let published = publish(work, registry, &subject, subject_size);
    let hex = subject.trim_start_matches("sha256:");
    let sig_tag = format!("sha256-{hex}.sig");

    // By default signatures and attestations travel, SBOMs do not.
    // A multi-arch image signed as `cosign sign --recursive` does: its index and each
    // platform manifest. Only what is carried (the index, amd64) brings its signature.
    let multi = site.image("library/multi:1");
    let multi_top = read_json(&multi.layout.join("index.json"));
    let multi_index = multi_top["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let platform = |arch: &str| {
        multi.top_json()["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == arch)
            .unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let multi_sigs: Vec<String> = [multi_index.clone(), platform("amd64"), platform("arm64")]
        .iter()
        .map(|subject| cosign_sign(work, registry, "library/multi", subject))
        .collect();

    site.manifest("linux/amd64", &[IMAGE, "library/multi:1"]);
    let said = outpost_ok(work, &["lock", "edge.yaml"]);
    assert!(
        said.contains("locked 2 images and 3 referrers into"),
        "{said}"
    );
    let mut multi_pins: Vec<String> = pinned(work, 1).into_iter().map(|(_, d, _)| d).collect();
    multi_pins.sort();
    let mut carried = multi_sigs[..2].to_vec();
    carried.sort();
    assert_eq!(multi_pins, carried);
    assert_eq!(
        pinned(work, 0),
        [(
            "signature".to_string(),
            published.signature.clone(),
            Some(sig_tag.clone())
        )]
    );
    // `spec.referrers.include` with sboms pins the SBOM too, found through the tag schema.
    let manifest = std::fs::read_to_string(work.join("edge.yaml")).unwrap();
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "{manifest}  referrers: {{include: [signatures, sboms]}}\n  verify:\n    - {{match: \"registry.test/library/alpha:*\", key: pub.pem}}\n"
        ),
    )
    .unwrap();
    outpost_ok(work, &["lock", "edge.yaml"]);
    // spec.verify finds the publisher's signature among the referrers discovered.
    let lock = read_json(&work.join("edge.lock"));
    assert_eq!(
        lock["images"][0]["signatures"][0]["signature"].as_str(),
        Some(published.signature.as_str()),
        "{lock}"
    );
    let mut found = pinned(work, 0);
    found.sort();
    let sbom_sig_tag = format!("{}.sig", published.sbom.replacen(':', "-", 1));
    let mut expected = vec![
        ("sbom".to_string(), published.sbom.clone(), None),
        (
            "signature".to_string(),
            published.sbom_signature.clone(),
            Some(sbom_sig_tag.clone()),
        ),
        (
            "signature".to_string(),
            published.signature.clone(),
            Some(sig_tag.clone()),
        ),
    ];
    expected.sort();
    assert_eq!(found, expected);
    let lock = read_json(&work.join("edge.lock"));
    let sbom_pin = lock["images"][0]["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "sbom")
        .unwrap();
    assert_eq!(sbom_pin["artifact_type"].as_str(), Some(SPDX));
    assert_eq!(sbom_pin["subject"].as_str(), Some(subject.as_str()));

    // The bundle carries exactly what the lockfile pins; inspect lists the referrers.
    outpost_ok(work, &["bundle", "build", "edge.yaml", "--locked"]);
    let inspected = json(&outpost_ok(
        work,
        &["bundle", "inspect", "bundles/edge-1.0.tar", "--json"],
    ));
    let images = inspected["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "{inspected}");
    assert_eq!(
        images[1]["referrers"].as_array().unwrap().len(),
        2,
        "{inspected}"
    );
    // The bundle holds, and so does the publisher's signature, re-checked offline from it.
    let verified = outpost_ok(
        work,
        &["bundle", "verify", "bundles/edge-1.0.tar", "--upstream"],
    );
    assert!(
        verified.contains("registry.test/library/alpha:1"),
        "{verified}"
    );
    let mut listed: Vec<(String, String)> = images[0]["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    listed.sort();
    let mut expected = vec![
        ("sbom".to_string(), published.sbom.clone()),
        ("signature".to_string(), published.signature.clone()),
        ("signature".to_string(), published.sbom_signature.clone()),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    let text = outpost_ok(work, &["bundle", "inspect", "bundles/edge-1.0.tar"]);
    let short = |digest: &str| digest[..19].to_string();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("referrer:")).collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines.iter().any(|l| l.contains("signature")
            && l.contains(&short(&published.signature))
            && l.contains(&sig_tag)),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("sbom") && l.contains(&short(&published.sbom)) && l.contains(SPDX)),
        "{text}"
    );
    // The SBOM's signature says what it signs.
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&short(&published.sbom_signature))
                && l.contains(&format!(" of {}", short(&published.sbom)))),
        "{text}"
    );

    // At the site: the signature and its payload from the mirror verify with stock openssl
    // against the publisher's key, and name the digest the mirror serves for the tag.
    let server = Server::start(work, &["bundles/edge-1.0.tar"]);
    let v2 = format!("{}/v2/registry.test/library/alpha", server.url());
    let image = http("GET", &format!("{v2}/manifests/1"), &[]);
    assert_eq!(image.status, 200);
    let served_digest = image.header("docker-content-digest").unwrap();
    let sig = http("GET", &format!("{v2}/manifests/{sig_tag}"), &[]);
    assert_eq!(sig.status, 200, "{}", sig.text());
    assert_eq!(
        sig.header("docker-content-digest"),
        Some(published.signature.clone())
    );
    let sig_manifest = json(&sig.text());
    let sbom_sig = http("GET", &format!("{v2}/manifests/{sbom_sig_tag}"), &[]);
    assert_eq!(
        sbom_sig.header("docker-content-digest"),
        Some(published.sbom_signature.clone())
    );
    let layer = &sig_manifest["layers"][0];
    let payload = http(
        "GET",
        &format!("{v2}/blobs/{}", layer["digest"].as_str().unwrap()),
        &[],
    );
    assert_eq!(payload.status, 200);
    let site_dir = work.join("site");
    std::fs::create_dir_all(&site_dir).unwrap();
    std::fs::write(site_dir.join("payload"), &payload.body).unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            layer["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    std::fs::write(site_dir.join("sig.der"), der).unwrap();
    std::fs::copy(work.join("pub.pem"), site_dir.join("pub.pem")).unwrap();
    let verified = run_ok(Command::new("openssl").current_dir(&site_dir).args([
        "dgst",
        "-sha256",
        "-verify",
        "pub.pem",
        "-signature",
        "sig.der",
        "payload",
    ]));
    assert_eq!(verified.trim(), "Verified OK");
    let claims = json(&String::from_utf8(payload.body.clone()).unwrap());
    assert_eq!(
        claims["critical"]["image"]["docker-manifest-digest"].as_str(),
        Some(served_digest.as_str())
    );

    // The referrers API lists the SBOM, filtered by artifact type.
    let referrers_of = |subject: &str, query: &str| -> Vec<String> {
        let reply = http("GET", &format!("{v2}/referrers/{subject}{query}"), &[]);
        assert_eq!(reply.status, 200, "{}", reply.text());
        json(&reply.text())["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["digest"].as_str().unwrap().to_string())
            .collect()
    };
    let referrers = |query: &str| referrers_of(&subject, query);
    // Unfiltered: the SBOM, and the cosign signature too (its manifest has no `subject`;
    // the bundle records what it signs).
    let mut all = referrers("");
    all.sort();
    let mut both = vec![published.sbom.clone(), published.signature.clone()];
    both.sort();
    assert_eq!(all, both);
    assert_eq!(
        // Percent-encoded, as clients send it (`+` alone would decode to a space).
        referrers("?artifactType=application%2Fspdx%2Bjson"),
        std::slice::from_ref(&published.sbom)
    );
    assert!(referrers("?artifactType=other/type").is_empty());
    // A chain: the SBOM's own signature is listed for the SBOM.
    assert_eq!(
        referrers_of(&published.sbom, ""),
        std::slice::from_ref(&published.sbom_signature)
    );
    drop(server);

    // Pushed to another registry (no referrers API either): the `.sig` tags, the SBOM by
    // digest, and the tag-schema index listing it.
    let target = Registry::start();
    let to = format!("127.0.0.1:{}", target.port);
    let summary = json(&outpost_ok(
        work,
        &[
            "push",
            "bundles/edge-1.0.tar",
            "--to",
            &to,
            "--plain-http",
            "--json",
        ],
    ));
    assert_eq!(
        (summary["images"].as_u64(), summary["referrers"].as_u64()),
        (Some(2), Some(5)),
        "{summary}"
    );
    let pushed = format!("http://{to}/v2/library/alpha");
    let accept = format!("Accept: {OCI_MANIFEST}, {OCI_INDEX}");
    let get = |reference: &str| {
        http(
            "GET",
            &format!("{pushed}/manifests/{reference}"),
            &["-H", &accept],
        )
    };
    let sig = get(&sig_tag);
    assert_eq!(sig.status, 200, "{}", sig.text());
    assert_eq!(
        sig.header("docker-content-digest"),
        Some(published.signature.clone())
    );
    let sbom = get(&published.sbom);
    assert_eq!(sbom.status, 200, "{}", sbom.text());
    assert_eq!(
        get(&sbom_sig_tag).header("docker-content-digest"),
        Some(published.sbom_signature.clone())
    );
    let index = get(&format!("sha256-{hex}"));
    assert_eq!(index.status, 200, "{}", index.text());
    let listed: Vec<String> = json(&index.text())["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, std::slice::from_ref(&published.sbom));
}

#[test]
fn a_cosign_tag_whose_manifest_names_another_subject_is_not_carried() {
    let site = Site::new();
    let (work, registry) = (site.work(), &site.registry);
    let alpha = upstream_digest(registry.port, IMAGE);
    let multi = upstream_digest(registry.port, "library/multi:1");
    // An attestation of another image, put under alpha's `.att` tag.
    let repo = "library/alpha";
    let (empty_digest, empty_size) = put_blob(registry, repo, b"{}");
    let (layer_digest, layer_size) = put_blob(registry, repo, b"{\"payloadType\":\"x\"}");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.dsse.envelope.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": empty_size},
        "layers": [{"mediaType": "application/vnd.dsse.envelope.v1+json", "digest": layer_digest, "size": layer_size}],
        "subject": {"mediaType": OCI_INDEX, "digest": multi, "size": 1},
    });
    let tag = format!("{}.att", alpha.replace(':', "-"));
    put_manifest(registry, repo, &tag, &manifest);
    site.manifest("linux/amd64", &[IMAGE]);
    let out = outpost(work, &["lock", "edge.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "registry.test/{IMAGE}: {tag} names {multi} as its subject, not {alpha}; not carried"
        )),
        "{stderr}"
    );
    let lock = read_json(&work.join("edge.lock"));
    assert!(lock["images"][0].get("referrers").is_none(), "{lock}");
}
