//! The site's signed receipt: two releases loaded into a store and verified, images pulled
//! through `serve --store --audit-log`, then `store report` signs what the site holds and
//! served; `report verify` at "HQ" prints both releases with their pull counts, openssl
//! checks the signature, and a receipt edited by one byte fails verification (exit 3).

use crate::common::*;
use std::path::Path;
use std::process::Command;

/// skopeo copies `image` (under `registry.test`) from the server.
fn pull(server: &Server, work: &Path, image: &str, n: usize) {
    let dest = work.join(format!("pulled-{}-{n}", sha256_hex(image.as_bytes())));
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{}/registry.test/{image}", server.addr()),
        &format!("oci:{}", dest.display()),
    ]));
}

/// The number of `pull: true` lines in the audit log.
fn pull_lines(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("\"pull\":true"))
        .count()
}

#[test]
fn a_signed_receipt_carries_releases_verification_and_pulls_back_to_hq() {
    require("skopeo");
    require("openssl");
    let site = Site::new();
    let work = site.work();
    let port = site.registry.port;
    write_release(
        work,
        "r1.yaml",
        "1.0",
        "linux/amd64",
        &["library/alpha:1"],
        port,
    );
    outpost_ok(work, &["bundle", "build", "r1.yaml"]);
    write_release(
        work,
        "r2.yaml",
        "2.0",
        "linux/amd64",
        &["team/beta:1", "library/multi:1"],
        port,
    );
    outpost_ok(work, &["bundle", "build", "r2.yaml"]);
    for bundle in ["bundles/edge-1.0.tar", "bundles/edge-2.0.tar"] {
        outpost_ok(work, &["load", bundle, "--store", "site"]);
    }
    outpost_ok(work, &["store", "verify", "--store", "site"]);
    let made = outpost_ok(work, &["key", "generate", "--site", "--out", "sitekeys"]);
    assert!(made.contains("sitekeys/site.key"), "{made}");
    assert!(work.join("sitekeys/site.pub").is_file());

    // Pulls: alpha twice, beta once, multi (an index) once; HEADs are not pulls.
    let server = Server::start(work, &["--store", "site", "--audit-log", "audit.log"]);
    pull(&server, work, "library/alpha:1", 1);
    pull(&server, work, "library/alpha:1", 2);
    pull(&server, work, "team/beta:1", 1);
    pull(&server, work, "library/multi:1", 1);
    let head = http(
        "HEAD",
        &format!("{}/v2/registry.test/team/beta/manifests/1", server.url()),
        &[],
    );
    assert_eq!(head.status, 200);
    // multi:1 is fetched as its index (a pull) and its amd64 manifest (a platform pull).
    // A server stopped by SIGTERM has every line on disk when it exits.
    assert!(server.terminate());
    assert_eq!(pull_lines(&work.join("audit.log")), 5);

    let out = outpost_ok(
        work,
        &[
            "store",
            "report",
            "--store",
            "site",
            "--key",
            "sitekeys/site.key",
            "--audit-log",
            "audit.log",
            "--out",
            "report.json",
        ],
    );
    assert!(out.contains("2 releases, 4 pulls"), "{out}");

    // Stock openssl checks the signature (cosign's format, as for a bundle's index.json).
    run_ok(Command::new("sh").current_dir(work).args([
        "-c",
        "base64 -d report.json.sig > report.sig.der && openssl dgst -sha256 -verify sitekeys/site.pub -signature report.sig.der report.json",
    ]));

    // HQ reads it: both releases, their verification and pull counts.
    let statement = json(&outpost_ok(
        work,
        &[
            "report",
            "verify",
            "report.json",
            "--key",
            "sitekeys/site.pub",
            "--json",
        ],
    ));
    let releases = statement["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 2);
    let (r1, r2) = (&releases[0], &releases[1]);
    assert_eq!(
        (&r1["version"], &r2["version"]),
        (&"1.0".into(), &"2.0".into())
    );
    for release in releases {
        assert_eq!(release["lastVerify"]["ok"], true, "{release}");
        let signer = format!("sha256:{}", key_fingerprint(&work.join("keys/outpost.pub")));
        assert_eq!(release["signer"], signer.as_str());
    }
    let pulls = |release: &serde_json::Value, image: &str| {
        let found = release["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["reference"] == format!("registry.test/{image}"))
            .unwrap_or_else(|| panic!("{image} not in {release}"))
            .clone();
        (
            found["pulls"].as_u64().unwrap(),
            found["platformPulls"].as_u64().unwrap(),
        )
    };
    assert_eq!(pulls(r1, "library/alpha:1"), (2, 0));
    assert_eq!(pulls(r2, "team/beta:1"), (1, 0));
    assert_eq!(pulls(r2, "library/multi:1"), (1, 1));
    assert_eq!((&r1["pulls"], &r2["pulls"]), (&2.into(), &2.into()));

    let text = outpost_ok(
        work,
        &[
            "report",
            "verify",
            "report.json",
            "--key",
            "sitekeys/site.pub",
        ],
    );
    let mut settings = snapshot_settings_without_digests();
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]");
    settings.bind(|| insta::assert_snapshot!("receipt_report_verify", text));

    // --since after every pull counts none.
    outpost_ok(
        work,
        &[
            "store",
            "report",
            "--store",
            "site",
            "--key",
            "sitekeys/site.key",
            "--audit-log",
            "audit.log",
            "--since",
            "2999-01-01T00:00:00Z",
            "--out",
            "later.json",
        ],
    );
    let later = read_json(&work.join("later.json"));
    assert_eq!(later["releases"][0]["pulls"], 0);
    assert_eq!(later["releases"][1]["pulls"], 0);

    // One byte changed: verification fails with exit 3 and says why.
    let mut bytes = std::fs::read(work.join("report.json")).unwrap();
    let at = String::from_utf8_lossy(&bytes)
        .find("\"pulls\": 2")
        .unwrap()
        + "\"pulls\": ".len();
    bytes[at] = b'9';
    std::fs::write(work.join("report.json"), &bytes).unwrap();
    let err = outpost_fails(
        work,
        &[
            "report",
            "verify",
            "report.json",
            "--key",
            "sitekeys/site.pub",
        ],
        3,
    );
    assert!(err.contains("does not match its signature"), "{err}");
    let refused = Command::new("sh")
        .current_dir(work)
        .args([
            "-c",
            "openssl dgst -sha256 -verify sitekeys/site.pub -signature report.sig.der report.json",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
}
