//! Upstream image signatures: `spec.verify` policies checked at lock against signatures made
//! the way `cosign sign --key` makes them (scripts/cosign_sign.py, openssl), and the same
//! signatures re-verified at the site, offline, from the bundle alone.

use crate::common::*;
use std::path::Path;
use std::process::Command;

/// Signs `image` (`library/alpha:1`) in the registry on `port` with `NAME.key`; `claim`
/// writes another digest into the payload (a signature that names another image).
fn cosign_sign(dir: &Path, port: u16, name: &str, image: &str, claim: Option<&str>) {
    require("python3");
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("scripts/cosign_sign.py"))
        .arg("--registry")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--key")
        .arg(dir.join(format!("{name}.key")));
    if let Some(claim) = claim {
        cmd.args(["--claim", claim]);
    }
    run_ok(cmd.arg(image));
}

/// `edge.yaml` naming `images` with one key policy for everything under `registry.test`.
fn policy_manifest(work: &Path, port: u16, images: &[&str]) {
    let list: String = images
        .iter()
        .map(|i| format!("    - registry.test/{i}\n"))
        .collect();
    std::fs::write(
        work.join("edge.yaml"),
        format!(
            "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1.0\"}}\nspec:\n  platforms: [linux/amd64]\n  images:\n{list}  upstreams: {{registry.test: \"http://127.0.0.1:{port}\"}}\n  verify:\n    - {{match: \"registry.test/*\", key: publisher.pub}}\n"
        ),
    )
    .unwrap();
}

/// Copies `from` to `to` in the registry on `port` (same bytes, another name, no signature).
fn copy_image(port: u16, from: &str, to: &str) {
    copy_between(port, from, port, to);
}

/// Copies `from` in the registry on `from_port` to `to` in the one on `to_port`.
fn copy_between(from_port: u16, from: &str, to_port: u16, to: &str) {
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://127.0.0.1:{from_port}/{from}"),
        &format!("docker://127.0.0.1:{to_port}/{to}"),
    ]));
}

#[test]
fn image_policies_pass_the_publishers_signature_and_fail_every_other_naming_the_image() {
    let site = Site::new();
    let (work, port) = (site.work(), site.registry.port);
    ec_key_pair(work, "publisher");
    ec_key_pair(work, "other");
    cosign_sign(work, port, "publisher", "library/alpha:1", None);
    // Re-signed upstream by another key.
    cosign_sign(work, port, "other", "team/beta:1", None);
    // The publisher's key, over a payload that names alpha's digest.
    let alpha = upstream_digest(port, "library/alpha:1");
    cosign_sign(work, port, "publisher", "library/multi:1", Some(&alpha));
    // Never signed.
    copy_image(port, "library/alpha:1", "library/gamma:1");

    policy_manifest(work, port, &["library/alpha:1"]);
    let out = outpost_ok(work, &["lock", "edge.yaml"]);
    assert!(
        out.contains("upstream signatures hold for 1 image (checked offline)"),
        "{out}"
    );
    let lock = read_json(&work.join("edge.lock"));
    let signature = &lock["images"][0]["signatures"][0];
    assert_eq!(signature["subject"], alpha.as_str(), "{lock}");
    assert_eq!(
        signature["signer"]["method"]["key"]["fingerprint"],
        key_fingerprint(&work.join("publisher.pub")).as_str(),
        "{lock}"
    );
    let good_lock = std::fs::read(work.join("edge.lock")).unwrap();
    let publisher = key_fingerprint(&work.join("publisher.pub"));

    let beta = upstream_digest(port, "team/beta:1");
    let multi = upstream_digest(port, "library/multi:1");
    let tag = |digest: &str| format!("{}.sig", digest.replace(':', "-"));
    for (image, found, why) in [
        (
            "team/beta:1",
            format!("found 1 that does not hold: {} (layer sha256:", tag(&beta)),
            "): the signature over the simple-signing payload does not verify with the expected key (another key made it, or what it signs changed)".to_string(),
        ),
        (
            "library/multi:1",
            format!("found 1 that does not hold: {} (layer sha256:", tag(&multi)),
            format!("): the signature is for {alpha}, but the artifact is {multi}"),
        ),
        ("library/gamma:1", "found no signature".to_string(), String::new()),
    ] {
        policy_manifest(work, port, &["library/alpha:1", image]);
        let out = outpost(work, &["lock", "edge.yaml"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{image}: {stderr}");
        // The image and the platform whose manifest lacks a valid signature.
        assert!(
            stderr.starts_with(&format!("error: registry.test/{image} (linux/amd64): no valid upstream signature: ")),
            "{image}: {stderr}"
        );
        assert!(stderr.contains(&found), "{image}: expected `{found}` in: {stderr}");
        assert!(stderr.trim_end().ends_with(&why), "{image}: expected `{why}` at the end of: {stderr}");
        assert!(
            stderr.contains(&format!("expected a signature by key sha256:{publisher} (policy `registry.test/*`)")),
            "{stderr}"
        );
        // Nothing written: the lockfile is the last good one.
        assert_eq!(std::fs::read(work.join("edge.lock")).unwrap(), good_lock);
    }

    // A policy whose pattern matches no image (a typo) would check nothing: refused.
    policy_manifest(work, port, &["library/alpha:1"]);
    let text = std::fs::read_to_string(work.join("edge.yaml")).unwrap();
    std::fs::write(
        work.join("edge.yaml"),
        text.replace("\"registry.test/*\"", "\"registry.tset/*\""),
    )
    .unwrap();
    let err = outpost_fails(work, &["lock", "edge.yaml"], 2);
    assert_eq!(
        err.trim(),
        "error: spec.verify `registry.tset/*`: matches no image of this release (its images: registry.test/library/alpha:1); fix the pattern or remove the policy"
    );
    assert_eq!(std::fs::read(work.join("edge.lock")).unwrap(), good_lock);
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sigstore");
const TARBALL: &str = "sigstore-5.0.0.tgz";
const NPM_IDENTITY: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";
const NPM_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The pin of `reference` in a lockfile, mutably.
fn pin_mut<'a>(lock: &'a mut serde_json::Value, reference: &str) -> &'a mut serde_json::Value {
    lock["images"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["reference"] == reference)
        .unwrap_or_else(|| panic!("{reference} is not locked"))
}

#[test]
fn upstream_signatures_hold_again_at_the_site_offline_and_a_swapped_one_fails() {
    let site = Site::new();
    let (work, port) = (site.work(), site.registry.port);
    ec_key_pair(work, "publisher");
    ec_key_pair(work, "other");
    cosign_sign(work, port, "publisher", "library/alpha:1", None);
    // A real public-good Sigstore bundle beside a real published file.
    let served = tempfile::tempdir().unwrap();
    for name in [TARBALL, &format!("{TARBALL}.sigstore.json")] {
        std::fs::copy(Path::new(FIXTURES).join(name), served.path().join(name)).unwrap();
    }
    let files = StaticServer::start(served.path().to_path_buf());
    policy_manifest(work, port, &["library/alpha:1"]);
    let mut text = std::fs::read_to_string(work.join("edge.yaml")).unwrap();
    text = text.replace(
        "  upstreams: {",
        &format!("  files:\n    - url: http://files.test/{TARBALL}\n      signature: {{bundle: \"{{url}}.sigstore.json\"}}\n      verify: {{keyless: {{issuer: \"{NPM_ISSUER}\", identity: \"{NPM_IDENTITY}\"}}}}\n  upstreams: {{files.test: \"http://127.0.0.1:{}\", ", files.port),
    );
    std::fs::write(work.join("edge.yaml"), text).unwrap();
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    let bundle = "bundles/edge-1.0.tar";
    drop(files); // the site has no upstream to ask

    let out = json(&outpost_ok(
        work,
        &["bundle", "verify", bundle, "--upstream", "--json"],
    ));
    let checked = out["upstream"].as_array().unwrap();
    let alpha = upstream_digest(port, "library/alpha:1");
    let publisher = key_fingerprint(&work.join("publisher.pub"));
    assert_eq!(checked.len(), 2, "{out}");
    assert_eq!(checked[0]["name"], "registry.test/library/alpha:1");
    assert_eq!(checked[0]["subject"], alpha.as_str());
    assert_eq!(
        checked[0]["signer"]["method"]["key"]["fingerprint"],
        publisher.as_str()
    );
    assert_eq!(checked[1]["name"], format!("files.test/{TARBALL}"));
    assert_eq!(
        checked[1]["signer"]["method"]["keyless"]["identity"],
        NPM_IDENTITY
    );
    assert_eq!(
        checked[1]["signer"]["method"]["keyless"]["issuer"],
        NPM_ISSUER
    );
    assert_eq!(checked[1]["signer"]["logIndex"], 1697019812u64);
    let text = outpost_ok(work, &["bundle", "verify", bundle, "--upstream"]);
    assert!(
        text.contains("upstream: 2 signatures hold, checked again offline (keyless ones against the carried Sigstore trusted root):"),
        "{text}"
    );

    // `load` checks them again too before the release enters the store.
    let loaded = outpost_ok(work, &["load", bundle, "--store", "store"]);
    assert!(
        loaded.contains("upstream: 2 publisher signatures checked again offline: all hold"),
        "{loaded}"
    );

    // inspect shows who signed each image and file (from the signed index.json).
    let inspected = json(&outpost_ok(work, &["bundle", "inspect", bundle, "--json"]));
    let image = inspected["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["reference"] == "registry.test/library/alpha:1")
        .unwrap();
    assert_eq!(
        image["signers"][0]["method"]["key"]["fingerprint"],
        publisher.as_str()
    );
    let file = &inspected["files"].as_array().unwrap()[0];
    assert_eq!(
        file["signers"][0]["method"]["keyless"]["identity"],
        NPM_IDENTITY
    );
    let text = outpost_ok(work, &["bundle", "inspect", bundle]);
    assert!(
        text.contains(&format!("  signed upstream by key sha256:{publisher}\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("  signed upstream by {NPM_IDENTITY} ({NPM_ISSUER}), Rekor log index 1697019812, logged 2026-")),
        "{text}"
    );

    // Swap the carried signature for one by another key (upstream re-signed; the lockfile
    // edited to carry it), rebuild: the bundle's own signature holds, the upstream one not.
    cosign_sign(work, port, "other", "library/alpha:1", None);
    let tag = format!("{}.sig", alpha.replace(':', "-"));
    let reply = http(
        "GET",
        &format!("http://127.0.0.1:{port}/v2/library/alpha/manifests/{tag}"),
        &["-H", "Accept: application/vnd.oci.image.manifest.v1+json"],
    );
    let swapped = format!("sha256:{}", sha256_hex(&reply.body));
    let swapped_layer = json(&reply.text())["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let mut lock = read_json(&work.join("edge.lock"));
    let pin = pin_mut(&mut lock, "registry.test/library/alpha:1");
    for referrer in pin["referrers"].as_array_mut().unwrap() {
        if referrer["tag"] == tag.as_str() {
            referrer["digest"] = swapped.clone().into();
            referrer["size"] = reply.body.len().into();
        }
    }
    pin["signatures"][0]["signature"] = swapped.clone().into();
    pin["signatures"][0]["layer"] = swapped_layer.into();
    std::fs::write(
        work.join("edge.lock"),
        serde_json::to_vec_pretty(&lock).unwrap(),
    )
    .unwrap();
    outpost_ok(work, &["bundle", "build", "edge.yaml", "--locked"]);
    outpost_ok(work, &["bundle", "verify", bundle]);
    let err = outpost_fails(work, &["bundle", "verify", bundle, "--upstream"], 3);
    assert!(
        err.contains(&format!(
            "registry.test/library/alpha:1: the upstream signature carried for {alpha} does not hold"
        )),
        "{err}"
    );
    assert!(err.contains("does not verify"), "{err}");
    // Nor does it load: the store keeps only the release loaded before.
    let err = outpost_fails(work, &["load", bundle, "--store", "store"], 3);
    assert!(err.contains("registry.test/library/alpha:1"), "{err}");
    let releases = std::fs::read_dir(work.join("store/releases"))
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count();
    assert_eq!(releases, 1);
}

#[test]
fn push_leaves_a_signature_the_target_already_has_under_the_cosign_tag() {
    let site = Site::new();
    let (work, port) = (site.work(), site.registry.port);
    ec_key_pair(work, "publisher");
    ec_key_pair(work, "site");
    cosign_sign(work, port, "publisher", "library/alpha:1", None);
    site.manifest("linux/amd64", &["library/alpha:1"]);
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    // The target holds the image already, signed there by the site's own key.
    let target = Registry::start();
    copy_between(port, "library/alpha:1", target.port, "library/alpha:1");
    cosign_sign(work, target.port, "site", "library/alpha:1", None);
    let alpha = upstream_digest(port, "library/alpha:1");
    let tag = format!("{}.sig", alpha.replace(':', "-"));
    let url = format!(
        "http://127.0.0.1:{}/v2/library/alpha/manifests/{tag}",
        target.port
    );
    let accept = ["-H", "Accept: application/vnd.oci.image.manifest.v1+json"];
    let before = http("GET", &url, &accept).body;
    let to = format!("127.0.0.1:{}", target.port);
    let out = outpost(
        work,
        &["push", "bundles/edge-1.0.tar", "--to", &to, "--plain-http"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let on_target = format!("sha256:{}", sha256_hex(&before));
    assert!(
        stderr.contains(&format!(
            "note: {to}/library/alpha:{tag} is already {on_target} on the target; left as it is"
        )),
        "{stderr}"
    );
    assert_eq!(http("GET", &url, &accept).body, before);
}
