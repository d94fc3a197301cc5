//! Access control holds where a second review found it did not: a repeated `?ns=`, a
//! percent-encoded path under a `deny` glob, a refresh token sent as an access token (with a
//! Host made to match its audience), wrong passwords sent all at once from one address, and
//! HTTP/2 clients (no Host header) sent to the right token realm.

use crate::auth::support::*;
use crate::common::*;

#[test]
fn access_control_holds_against_the_reviewed_bypasses() {
    let site = Site::new();
    let work = site.work();
    let (bundle, _files, _, file) = bundle(&site);
    // alice may read /files but not the one file under a deny glob.
    let auth = work.join("auth.yaml");
    std::fs::write(
        &auth,
        format!(
            "users:\n  - {{name: alice, password: \"{}\"}}\nrules:\n  - {{who: [alice], allow: [\"registry.test/library/*\", \"/files/*\"], deny: [\"{file}\"]}}\n",
            htpasswd("alice", "alice-pw")
        ),
    )
    .unwrap();
    let server = Server::start(
        work,
        &[
            bundle.to_str().unwrap(),
            "--auth",
            auth.to_str().unwrap(),
            "--state-dir",
            "state",
            "--tls",
            "auto",
            "--hostname",
            "127.0.0.1",
        ],
    );
    let ca = work.join("state/ca.crt");
    let tls = ["--cacert", ca.to_str().unwrap()];
    fn joined<'a>(first: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = first.to_vec();
        args.extend_from_slice(extra);
        args
    }

    // 1. `ns` given twice is refused (the handler would serve another than the one checked).
    let twice = http(
        "GET",
        &format!(
            "{}/v2/library/alpha/manifests/1?ns=registry.test&ns=registry.test",
            server.url()
        ),
        &joined(&tls, &["-u", "alice:alice-pw", "-H", ACCEPT]),
    );
    assert_eq!(twice.status, 400, "{}", twice.text());
    let once = http(
        "GET",
        &format!(
            "{}/v2/library/alpha/manifests/1?ns=registry.test",
            server.url()
        ),
        &joined(&tls, &["-u", "alice:alice-pw", "-H", ACCEPT]),
    );
    assert_eq!(once.status, 200, "{}", once.text());

    // 2. The deny glob holds for the path as the handler decodes it.
    let plain = http(
        "GET",
        &format!("{}{file}", server.url()),
        &joined(&tls, &["-u", "alice:alice-pw"]),
    );
    assert_eq!(plain.status, 403, "{}", plain.text());
    let last = file.chars().last().unwrap();
    let encoded = format!("{}%{:02X}", &file[..file.len() - 1], last as u32);
    let sneaky = http(
        "GET",
        &format!("{}{encoded}", server.url()),
        &joined(&tls, &["-u", "alice:alice-pw"]),
    );
    assert_eq!(sneaky.status, 403, "{encoded}: {}", sneaky.text());

    // 3. A refresh token is not an access token, even with a Host matching its audience;
    // and no access token is minted for a `refresh:` service.
    let url = format!(
        "{}/token?service={}&scope=repository:{ALPHA}:pull&access_type=offline",
        server.url(),
        server.addr()
    );
    let issued = http("GET", &url, &joined(&tls, &["-u", "alice:alice-pw"]));
    assert_eq!(issued.status, 200, "{}", issued.text());
    let body: serde_json::Value = serde_json::from_slice(&issued.body).unwrap();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let access = body["token"].as_str().unwrap().to_string();
    let host = format!("Host: refresh:{}", server.addr());
    let bearer = format!("Authorization: Bearer {refresh}");
    let misuse = http(
        "GET",
        &manifest_url(&server, ALPHA),
        &joined(
            &tls,
            &["--http1.1", "-H", &bearer, "-H", &host, "-H", ACCEPT],
        ),
    );
    assert_eq!(misuse.status, 401, "{}", misuse.text());
    let good = format!("Authorization: Bearer {access}");
    let used = http(
        "GET",
        &manifest_url(&server, ALPHA),
        &joined(&tls, &["-H", &good, "-H", ACCEPT]),
    );
    assert_eq!(used.status, 200, "{}", used.text());
    let wrong_service = http(
        "GET",
        &format!("{}/token?service=refresh:{}", server.url(), server.addr()),
        &joined(&tls, &["-u", "alice:alice-pw"]),
    );
    assert_eq!(wrong_service.status, 400, "{}", wrong_service.text());

    // 4. HTTP/2 has no Host header: the challenge still names the host the client reached.
    let h2 = http(
        "GET",
        &manifest_url(&server, ALPHA),
        &joined(&tls, &["--http2", "-H", ACCEPT]),
    );
    assert_eq!(h2.status, 401);
    let challenge = h2.header("www-authenticate").unwrap();
    assert!(
        challenge.contains(&format!("realm=\"{}/token\"", server.url()))
            && challenge.contains(&format!("service=\"{}\"", server.addr())),
        "{challenge}"
    );

    // 5. Forty wrong passwords sent at once from one address: only the burst (10) is
    // checked, the rest are refused with 429 before any hash runs.
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..40)
            .map(|_| {
                scope.spawn(|| {
                    http(
                        "GET",
                        &manifest_url(&server, ALPHA),
                        &joined(
                            &tls,
                            &[
                                "--interface",
                                "127.0.0.5",
                                "-u",
                                "alice:wrong",
                                "-H",
                                ACCEPT,
                            ],
                        ),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + limited, 40, "{statuses:?}");
    assert!(
        checked <= 10,
        "{checked} wrong passwords were checked: {statuses:?}"
    );
}
