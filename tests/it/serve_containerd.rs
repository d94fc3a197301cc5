//! A real containerd pulls images by their upstream names through the `hosts.toml` files
//! `outpost config containerd` writes, and the bytes come from outpost: over plain HTTP and
//! over TLS with the site CA that `--tls auto` creates.

use crate::common::*;

#[test]
fn containerd_pulls_through_the_mirror_over_http_and_tls() {
    let site = Site::new();
    let work = site.work();
    let bundle = site.build("linux/amd64", &["library/alpha:1", "library/multi:1"]);
    let containerd_dir = tempfile::Builder::new()
        .prefix("ctd")
        .tempdir_in("/tmp")
        .unwrap();
    let containerd = Containerd::start(containerd_dir.path());

    // Plain HTTP.
    let server = Server::start(work, &[bundle.to_str().unwrap()]);
    let written = outpost_ok(
        work,
        &config_args(
            "containerd",
            &server.url(),
            "bundles/edge-1.0.tar",
            &["--out", "certs-http"],
        ),
    );
    assert!(written.contains("config_path"), "{written}");
    let hosts = std::fs::read_to_string(work.join("certs-http/registry.test/hosts.toml")).unwrap();
    assert!(
        hosts.contains(&format!("[host.\"{}\"]", server.url())),
        "{hosts}"
    );
    containerd.pull(&work.join("certs-http"), "registry.test/library/alpha:1");
    assert_eq!(
        containerd.image_digest("registry.test/library/alpha:1"),
        pinned_digest(work, "edge.lock", "registry.test/library/alpha:1")
    );
    let log = server.log();
    assert!(
        log.contains("/v2/library/alpha/manifests/1?ns=registry.test"),
        "the pull did not come from outpost:\n{log}"
    );
    drop(server);

    // TLS with a site CA created by --tls auto.
    let server = Server::start_tls_auto(work, &bundle);
    assert!(work.join("state/ca.crt").is_file());
    let ca = work.join("state/ca.crt").display().to_string();
    outpost_ok(
        work,
        &config_args(
            "containerd",
            &server.url(),
            "bundles/edge-1.0.tar",
            &["--ca", &ca, "--out", "certs-tls"],
        ),
    );
    containerd.pull(&work.join("certs-tls"), "registry.test/library/multi:1");
    assert_eq!(
        containerd.image_digest("registry.test/library/multi:1"),
        pinned_digest(work, "edge.lock", "registry.test/library/multi:1")
    );
    let log = server.log();
    assert!(
        log.contains("/v2/library/multi/manifests/1?ns=registry.test"),
        "the pull did not come from outpost:\n{log}"
    );
    // Stock curl trusts the server with the CA, and only with it.
    assert_eq!(
        http(
            "GET",
            &format!("{}/healthz", server.url()),
            &["--cacert", &ca]
        )
        .status,
        200
    );
    assert_eq!(
        http("GET", &format!("{}/healthz", server.url()), &[]).status,
        0
    );
}
