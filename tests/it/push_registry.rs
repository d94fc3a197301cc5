//! `outpost push` into a real CNCF distribution registry, open and behind htpasswd basic
//! auth: skopeo sees every image under the prefix with the pinned digests, the lockfile
//! arrives as an OCI artifact, and a second push uploads no blob.

use crate::common::*;
use std::path::Path;
use std::process::Command;

const IMAGES: [&str; 3] = ["library/alpha:1", "team/beta:1", "library/multi:1"];

/// skopeo inspects every pinned image in the target; the manifest digest must be the pin,
/// except for an index the bundle carries partly (`reduced`): its tag names an index of just
/// the carried platform manifests, whose digests are the pinned ones.
fn assert_pushed(work: &Path, port: u16, prefix: &str, creds: Option<&str>, reduced: &[&str]) {
    let lock = read_json(&work.join("edge.lock"));
    for pin in lock["images"].as_array().unwrap() {
        let reference = pin["reference"].as_str().unwrap();
        let path = reference.trim_start_matches("registry.test/");
        let mut inspect = Command::new("skopeo");
        inspect.args(["inspect", "--raw", "--tls-verify=false"]);
        if let Some(creds) = creds {
            inspect.arg(format!("--creds={creds}"));
        }
        inspect.arg(format!("docker://127.0.0.1:{port}/{prefix}/{path}"));
        let raw = run_ok(&mut inspect);
        if reduced.contains(&path) {
            let index = json(&raw);
            let listed: Vec<&str> = index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["digest"].as_str().unwrap())
                .collect();
            let carried: Vec<&str> = pin["platforms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["digest"].as_str().unwrap())
                .collect();
            assert_eq!(listed, carried, "{reference}");
        } else {
            assert_eq!(
                format!("sha256:{}", sha256_hex(raw.as_bytes())),
                pin["digest"].as_str().unwrap(),
                "{reference}"
            );
        }
        // The image can be copied out whole (every carried platform, layers included).
        let dest = work.join(format!("copied-{}", sha256_hex(path.as_bytes())));
        let _ = std::fs::remove_dir_all(&dest);
        let mut copy = Command::new("skopeo");
        copy.args(["copy", "-q", "--all", "--src-tls-verify=false"]);
        if let Some(creds) = creds {
            copy.arg(format!("--src-creds={creds}"));
        }
        copy.arg(format!("docker://127.0.0.1:{port}/{prefix}/{path}"));
        copy.arg(format!("oci:{}", dest.display()));
        run_ok(&mut copy);
    }
}

/// `outpost push bundles/edge-1.0.tar --to TO --plain-http EXTRA… --json`, its summary.
fn push_json(work: &Path, to: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "push",
        "bundles/edge-1.0.tar",
        "--to",
        to,
        "--plain-http",
        "--json",
    ];
    args.extend_from_slice(extra);
    json(&outpost_ok(work, &args))
}

#[test]
fn push_into_distribution_keeps_digests_and_repeats_for_free() {
    let site = Site::new();
    let work = site.work();
    site.build("linux/amd64", &IMAGES);
    let target = Registry::start();
    let to = format!("127.0.0.1:{}", target.port);
    let first = push_json(work, &to, &["--prefix", "site"]);
    assert_eq!(first["images"].as_u64(), Some(3));
    assert!(first["blobs_pushed"].as_u64().unwrap() > 0);
    assert!(first["bytes_pushed"].as_u64().unwrap() > 0);
    // alpha and beta share a base layer: uploaded once, mounted into the other repository.
    assert!(first["blobs_mounted"].as_u64().unwrap() >= 1, "{first}");
    // multi's index names an arm64 manifest this amd64 bundle does not carry: distribution
    // refuses it as pinned, so its tag gets the reduced index (reported).
    assert_eq!(first["reduced"].as_array().unwrap().len(), 1, "{first}");
    assert!(first["reduced"][0]
        .as_str()
        .unwrap()
        .contains("library/multi:1"));
    assert_pushed(work, target.port, "site", None, &["library/multi:1"]);

    // The lockfile is there as an artifact, tagged with the release version.
    let raw = run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{to}/site/outpost/edge:1.0"),
    ]));
    let index = json(&raw);
    assert_eq!(
        index["annotations"]["io.outpost.release.version"].as_str(),
        Some("1.0")
    );
    assert_eq!(
        index["manifests"][0]["annotations"]["io.outpost.kind"].as_str(),
        Some("lockfile")
    );

    // Again: nothing to upload.
    let second = push_json(work, &to, &["--prefix", "site"]);
    assert_eq!(second["blobs_pushed"].as_u64(), Some(0), "{second}");
    assert_eq!(second["bytes_pushed"].as_u64(), Some(0), "{second}");
    assert_eq!(second["blobs_mounted"].as_u64(), Some(0), "{second}");
    assert_eq!(second["manifests_pushed"].as_u64(), Some(1), "{second}"); // the artifact index
}

#[test]
fn push_with_basic_auth() {
    let site = Site::new();
    let work = site.work();
    // Every platform of the index travels: the index itself is pushed, byte for byte.
    site.build("linux/amd64, linux/arm64", &["library/multi:1"]);
    let target = Registry::start_with_login(Some(("ops", "s3cret")));
    let to = format!("127.0.0.1:{}", target.port);

    // Without credentials the registry refuses, and the error says where to put them.
    let err = outpost_fails(
        work,
        &["push", "bundles/edge-1.0.tar", "--to", &to, "--plain-http"],
        4,
    );
    assert!(err.contains(&to), "{err}");

    let out = outpost_ok(
        work,
        &[
            "push",
            "bundles/edge-1.0.tar",
            "--to",
            &to,
            "--plain-http",
            "--prefix",
            "mirror/k8s",
            "--creds",
            "ops:s3cret",
        ],
    );
    // The image's repository and the release's artifacts repository.
    assert!(
        out.starts_with(&format!("pushed 1 image into 2 repositories on {to}\n")),
        "{out}"
    );
    assert!(!out.contains("reduced"), "{out}");
    assert_pushed(work, target.port, "mirror/k8s", Some("ops:s3cret"), &[]);
    let again = push_json(
        work,
        &to,
        &["--prefix", "mirror/k8s", "--creds", "ops:s3cret"],
    );
    assert_eq!(again["blobs_pushed"].as_u64(), Some(0), "{again}");
    assert_eq!(again["bytes_pushed"].as_u64(), Some(0), "{again}");
}
