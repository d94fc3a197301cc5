//! `serve --auth`: real clients through the distribution token flow (skopeo, containerd's
//! ctr with `--user` and with hosts.toml), refusals with the spec's challenge and error
//! bodies, mTLS with curl, tokens that must not work (another repository, a wrong
//! signature, expired, replayed after expiry), and the per-address limit on failed logins
//! measured against another client's pulls.

pub mod support;

use crate::common::*;
use std::io::BufReader;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

#[test]
fn registry_clients_pull_through_the_token_flow_and_the_rules_hold() {
    require("skopeo");
    let site = Site::new();
    let work = site.work();
    let (bundle, _files, _, file) = bundle(&site);
    let auth = auth_file(work);
    // A typo in the auth file: serve does not start, and says where.
    let text = std::fs::read_to_string(&auth).unwrap();
    std::fs::write(work.join("typo.yaml"), text.replace("allow:", "alow:")).unwrap();
    let said = outpost_fails(
        work,
        &[
            "serve",
            bundle.to_str().unwrap(),
            "--auth",
            "typo.yaml",
            "--listen",
            "127.0.0.1:0",
        ],
        2,
    );
    assert!(
        said.contains("typo.yaml:7:") && said.contains("alow"),
        "{said}"
    );
    let server = Server::start(
        work,
        &[
            bundle.to_str().unwrap(),
            "--auth",
            auth.to_str().unwrap(),
            "--state-dir",
            "state",
        ],
    );
    assert!(work.join("state/token.key").is_file());

    // No credentials: 401 with the challenge naming the token realm, service and scope.
    let reply = http("GET", &manifest_url(&server, ALPHA), &["-H", ACCEPT]);
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.error_code(), "UNAUTHORIZED");
    assert_eq!(
        reply.header("www-authenticate").unwrap(),
        format!(
            "Bearer realm=\"{}/token\",service=\"{}\",scope=\"repository:{ALPHA}:pull\"",
            server.url(),
            server.addr()
        )
    );
    let base = http("GET", &format!("{}/v2/", server.url()), &[]);
    assert_eq!(base.status, 401);
    assert!(base
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer realm="));
    let without = skopeo_inspect(&server, None, ALPHA);
    assert!(!without.status.success());
    let said = String::from_utf8_lossy(&without.stderr).to_lowercase();
    assert!(
        said.contains("401")
            || said.contains("unauthorized")
            || said.contains("authentication required"),
        "{said}"
    );

    // skopeo with --creds (bcrypt user) and --src-creds (argon2 user) pulls via the token flow.
    let pinned = pinned_digest(work, "edge.lock", &format!("{ALPHA}:1"));
    let alice = skopeo_inspect(&server, Some(("--creds", "alice:alice-pw")), ALPHA);
    assert!(
        alice.status.success(),
        "{}",
        String::from_utf8_lossy(&alice.stderr)
    );
    assert_eq!(format!("sha256:{}", sha256_hex(&alice.stdout)), pinned);
    let copied = Command::new("skopeo")
        .args([
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            "bob:bob-pw",
        ])
        .arg(format!("docker://{}/{BETA}:1", server.addr()))
        .arg(format!("oci:{}:beta", work.join("beta-oci").display()))
        .output()
        .unwrap();
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    let log = server.log();
    assert!(
        log.contains("/token"),
        "skopeo did not use the token endpoint:\n{log}"
    );

    // alice is refused team/beta: by skopeo, with her token for alpha, and with Basic.
    let refused = skopeo_inspect(&server, Some(("--creds", "alice:alice-pw")), BETA);
    assert!(!refused.status.success());
    let (status, body) = token(
        &server,
        "alice:alice-pw",
        &[&format!("repository:{ALPHA}:pull")],
    );
    assert_eq!(status, 200, "{body}");
    for key in ["token", "access_token", "expires_in", "issued_at"] {
        assert!(body.get(key).is_some(), "{key} missing: {body}");
    }
    let alpha_token = body["token"].as_str().unwrap().to_string();
    let bearer = format!("Authorization: Bearer {alpha_token}");
    assert_eq!(
        http(
            "GET",
            &manifest_url(&server, ALPHA),
            &["-H", ACCEPT, "-H", &bearer]
        )
        .status,
        200
    );
    let other = http(
        "GET",
        &manifest_url(&server, BETA),
        &["-H", ACCEPT, "-H", &bearer],
    );
    assert_eq!(other.status, 401, "{}", other.text());
    assert_eq!(other.error_code(), "UNAUTHORIZED");
    assert!(other
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"insufficient_scope\""));
    let basic = http(
        "GET",
        &manifest_url(&server, BETA),
        &["-H", ACCEPT, "-u", "alice:alice-pw"],
    );
    assert_eq!(basic.status, 403, "{}", basic.text());
    assert_eq!(basic.error_code(), "DENIED");
    assert_eq!(
        http(
            "GET",
            &manifest_url(&server, ALPHA),
            &["-H", ACCEPT, "-u", "alice:alice-pw"]
        )
        .status,
        200
    );
    // Several scopes in one request (one of them a host:port name): only what is allowed.
    let (_, body) = token(
        &server,
        "alice:alice-pw",
        &[
            &format!("repository:{ALPHA}:pull"),
            &format!("repository:{BETA}:pull"),
            &format!("repository:{}/{ALPHA}:pull", server.addr()),
        ],
    );
    let granted: Vec<String> = claims(body["token"].as_str().unwrap())["access"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(granted, vec![ALPHA.to_string()]);
    // The OAuth2 form works too, and a wrong password is refused as JSON.
    let posted = http(
        "POST",
        &format!("{}/token", server.url()),
        &["--data", &format!("grant_type=password&username=bob&password=bob-pw&service={}&scope=repository:{BETA}:pull&client_id=test", server.addr())],
    );
    assert_eq!(posted.status, 200, "{}", posted.text());
    assert_eq!(
        claims(json(&posted.text())["access_token"].as_str().unwrap())["access"][0]["name"],
        BETA
    );
    let (status, body) = token(&server, "alice:wrong", &[]);
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    // The catalog lists only what the caller may pull.
    let listed = http(
        "GET",
        &format!("{}/v2/_catalog", server.url()),
        &["-u", "alice:alice-pw"],
    );
    assert_eq!(
        json(&listed.text())["repositories"],
        serde_json::json!([ALPHA])
    );
    // /healthz stays open; /files needs a login.
    assert_eq!(
        http("GET", &format!("{}/healthz", server.url()), &[]).status,
        200
    );
    let files = http("GET", &format!("{}{file}", server.url()), &[]);
    assert_eq!(files.status, 401);
    assert!(files
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic realm="));
    assert_eq!(
        http(
            "GET",
            &format!("{}{file}", server.url()),
            &["-u", "alice:alice-pw"]
        )
        .status,
        200
    );

    // containerd: ctr --user (direct) and through hosts.toml, both via the token flow.
    let containerd_dir = tempfile::Builder::new()
        .prefix("ctd")
        .tempdir_in("/tmp")
        .unwrap();
    let containerd = Containerd::start(containerd_dir.path());
    let direct = format!("{}/{ALPHA}:1", server.addr());
    let pull = |user: Option<&str>| {
        let mut cmd = containerd.ctr();
        cmd.args(["images", "pull", "--snapshotter", "native", "--plain-http"]);
        if let Some(user) = user {
            cmd.args(["--user", user]);
        }
        cmd.arg(&direct).output().unwrap()
    };
    let failed = pull(None);
    assert!(!failed.status.success(), "ctr pulled without credentials");
    let pulled = pull(Some("alice:alice-pw"));
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    assert_eq!(containerd.image_digest(&direct), pinned);
    outpost_ok(
        work,
        &config_args(
            "containerd",
            &server.url(),
            bundle.to_str().unwrap(),
            &["--out", "certs"],
        ),
    );
    let hosts = work.join("certs");
    let via_hosts =
        |user: &[&str], image: &str| containerd.pull_with(&hosts, user, image).output().unwrap();
    assert!(!via_hosts(&[], &format!("{BETA}:1")).status.success());
    assert!(
        !via_hosts(&["--user", "alice:alice-pw"], &format!("{BETA}:1"))
            .status
            .success()
    );
    let ok = via_hosts(&["--user", "bob:bob-pw"], &format!("{BETA}:1"));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        containerd.image_digest(&format!("{BETA}:1")),
        pinned_digest(work, "edge.lock", &format!("{BETA}:1"))
    );
    let log = server.log();
    assert!(
        log.contains("ns=registry.test"),
        "the hosts.toml pull did not come from outpost:\n{log}"
    );
}

#[test]
fn mtls_client_certificates_from_the_client_ca_only() {
    let site = Site::new();
    let work = site.work();
    let (bundle, _files, content, file) = bundle(&site);
    let auth = auth_file(work);
    let (ca, node_cert, node_key) = client_ca(work, "site", "node1.site.test");
    let (_, rogue_cert, rogue_key) = client_ca(work, "rogue", "node1.site.test");
    let start = |required: bool| {
        let mut args = vec![
            bundle.to_str().unwrap(),
            "--tls",
            "auto",
            "--hostname",
            "127.0.0.1",
            "--state-dir",
            "state",
            "--auth",
            auth.to_str().unwrap(),
            "--client-ca",
            ca.to_str().unwrap(),
        ];
        if required {
            args.push("--require-client-cert");
        }
        Server::start(work, &args)
    };
    let server_ca = work.join("state/ca.crt");
    let get = |server: &Server, extra: &[&str]| {
        let mut args = vec!["--cacert", server_ca.to_str().unwrap()];
        args.extend_from_slice(extra);
        http("GET", &format!("{}{file}", server.url()), &args)
    };
    let with_node = [
        "--cert",
        node_cert.to_str().unwrap(),
        "--key",
        node_key.to_str().unwrap(),
    ];
    let with_rogue = [
        "--cert",
        rogue_cert.to_str().unwrap(),
        "--key",
        rogue_key.to_str().unwrap(),
    ];

    let server = start(true);
    let reply = get(&server, &with_node);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.body, content);
    // No certificate, or one from another CA: the handshake fails (curl gets no status).
    assert_eq!(get(&server, &[]).status, 0);
    assert_eq!(get(&server, &with_rogue).status, 0);
    drop(server);

    // Optional client certificates: without one, a password still works; a foreign one
    // still fails the handshake.
    let server = start(false);
    assert_eq!(get(&server, &with_node).status, 200);
    let anonymous = get(&server, &[]);
    assert_eq!(anonymous.status, 401);
    assert_eq!(get(&server, &["-u", "bob:bob-pw"]).status, 200);
    assert_eq!(get(&server, &with_rogue).status, 0);
}

#[test]
fn bad_tokens_are_refused_and_failed_logins_are_rate_limited() {
    let site = Site::new();
    let work = site.work();
    let (bundle, _files, _, _) = bundle(&site);
    let auth = auth_file(work);
    let server = Server::start(
        work,
        &[
            bundle.to_str().unwrap(),
            "--auth",
            auth.to_str().unwrap(),
            "--state-dir",
            "state",
            "--token-ttl",
            "1",
        ],
    );
    let get_with = |repository: &str, token: &str| {
        http(
            "GET",
            &manifest_url(&server, repository),
            &[
                "-H",
                ACCEPT,
                "-H",
                &format!("Authorization: Bearer {token}"),
            ],
        )
    };
    let (_, body) = token(
        &server,
        "bob:bob-pw",
        &[&format!("repository:{ALPHA}:pull")],
    );
    let alpha = body["token"].as_str().unwrap().to_string();
    assert_eq!(body["expires_in"], 1);
    assert_eq!(get_with(ALPHA, &alpha).status, 200);
    // Minted for alpha, used on beta (bob may pull beta, but not with this token).
    assert_eq!(get_with(BETA, &alpha).status, 401);
    // A wrong signature: the last character of the signature changed.
    let mut forged = alpha.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let reply = get_with(ALPHA, &forged);
    assert_eq!(reply.status, 401);
    assert!(reply
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_token\""));
    // Signed by another key (same claims).
    let other_key = rcgen::KeyPair::generate().unwrap();
    assert_eq!(
        get_with(ALPHA, &resign(&alpha, &other_key.serialize_pem(), |_| {})).status,
        401
    );
    // Signed by the server's own key, but expired a minute ago.
    let state_key = std::fs::read_to_string(work.join("state/token.key")).unwrap();
    let expired = resign(&alpha, &state_key, |claims| {
        let now = claims["iat"].as_i64().unwrap();
        claims["nbf"] = (now - 120).into();
        claims["exp"] = (now - 60).into();
    });
    assert_eq!(get_with(ALPHA, &expired).status, 401);
    // The same key and claims, not expired: accepted (so the refusals above are for the
    // reasons given).
    assert_eq!(
        get_with(ALPHA, &resign(&alpha, &state_key, |_| {})).status,
        200
    );
    // Replay after expiry (1 s lifetime + 5 s leeway).
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(get_with(ALPHA, &alpha).status, 401);

    // A good client's manifest pulls (Basic, kept alive) from 127.0.0.1, timed before and
    // during 1,000 wrong passwords from 127.0.0.2.
    let good_request = format!(
        "GET /v2/{ALPHA}/manifests/1 HTTP/1.1\r\nHost: {}\r\n{ACCEPT}\r\nAuthorization: Basic {}\r\n\r\n",
        server.addr(),
        basic("bob", "bob-pw")
    );
    let bad_request = format!(
        "GET /v2/{ALPHA}/manifests/1 HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {}\r\n\r\n",
        server.addr(),
        basic("alice", "wrong")
    );
    let mut good = connect_from("127.0.0.1", &server.addr());
    let measure = |good: &mut BufReader<TcpStream>, n: usize| -> Duration {
        let times: Vec<Duration> = (0..n)
            .map(|_| {
                let started = Instant::now();
                assert_eq!(exchange(good, &good_request), 200);
                started.elapsed()
            })
            .collect();
        median(times)
    };
    let _ = measure(&mut good, 50);
    let before = measure(&mut good, 400);
    let attacker = {
        let server_addr = server.addr();
        let bad_request = bad_request.clone();
        // Ten connections guessing at once, 100 guesses each.
        std::thread::spawn(move || {
            let guessers: Vec<_> = (0..10)
                .map(|_| {
                    let (server_addr, bad_request) = (server_addr.clone(), bad_request.clone());
                    std::thread::spawn(move || {
                        let mut stream = connect_from("127.0.0.2", &server_addr);
                        (0..100)
                            .map(|_| exchange(&mut stream, &bad_request))
                            .collect::<Vec<u16>>()
                    })
                })
                .collect();
            guessers
                .into_iter()
                .flat_map(|g| g.join().unwrap())
                .collect::<Vec<u16>>()
        })
    };
    let mut during_times = Vec::new();
    while !attacker.is_finished() {
        during_times.push(measure(&mut good, 20));
    }
    let statuses = attacker.join().unwrap();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(limited + unauthorized, 1000, "{statuses:?}");
    assert!(
        limited >= 900,
        "only {limited} of 1000 wrong passwords were rate-limited"
    );
    let during = if during_times.is_empty() {
        measure(&mut good, 20)
    } else {
        median(during_times)
    };
    let slowdown = during.as_secs_f64() / before.as_secs_f64();
    eprintln!(
        "rate limit: {limited} of 1000 wrong passwords got 429; good client's median manifest GET {before:?} before, {during:?} during ({:+.1} %)",
        (slowdown - 1.0) * 100.0
    );
    // The goal is < 10 %; on a loaded 2-core machine the bound asserted is looser.
    assert!(
        slowdown < 1.5,
        "the good client slowed down by {:.0} %",
        (slowdown - 1.0) * 100.0
    );
    // The good client was never limited.
    assert_eq!(exchange(&mut good, &good_request), 200);
}
