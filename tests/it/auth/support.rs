//! What the auth tests share: the bundle (two repositories and a file), the auth file
//! (a bcrypt user, an argon2 user, a certificate user), client CAs, tokens, and a raw
//! kept-alive HTTP client bound to a chosen local address.

use crate::common::*;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub const IMAGES: [&str; 2] = ["library/alpha:1", "team/beta:1"];
pub const ALPHA: &str = "registry.test/library/alpha";
pub const BETA: &str = "registry.test/team/beta";

/// A bundle with two repositories (`registry.test/library/alpha`, `registry.test/team/beta`)
/// and one file, its upstream file server (kept alive), the file's content and its URL path
/// on the mirror.
pub fn bundle(site: &Site) -> (PathBuf, StaticServer, Vec<u8>, String) {
    let work = site.work();
    let root = work.join("upstream-files");
    std::fs::create_dir_all(root.join("tools")).unwrap();
    let content = b"the tool, version 1\n".to_vec();
    std::fs::write(root.join("tools/tool.bin"), &content).unwrap();
    let files = StaticServer::start(root);
    let manifest = site.manifest("linux/amd64", &IMAGES);
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text = text.replace(
        "  upstreams: {",
        &format!(
            "  files:\n    - url: http://files.test/tools/tool.bin\n      checksum: {{sha256: {}}}\n  upstreams: {{files.test: \"http://127.0.0.1:{}\", ",
            sha256_hex(&content),
            files.port
        ),
    );
    std::fs::write(&manifest, text).unwrap();
    outpost_ok(work, &["bundle", "build", "edge.yaml"]);
    let path = read_json(&work.join("edge.lock"))["files"][0]["path"]
        .as_str()
        .unwrap()
        .to_string();
    (
        work.join("bundles/edge-1.0.tar"),
        files,
        content,
        format!("/files/{path}"),
    )
}

/// `htpasswd -nbB USER PASSWORD`'s hash.
pub fn htpasswd(user: &str, password: &str) -> String {
    require("htpasswd");
    let out = run_ok(Command::new("htpasswd").args(["-nbB", "-C", "5", user, password]));
    out.trim().split_once(':').unwrap().1.to_string()
}

/// `outpost auth hash` with the password on standard input.
pub fn argon2(work: &Path, password: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["auth", "hash"])
        .current_dir(work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    hash
}

/// alice (bcrypt, from htpasswd) may pull `registry.test/library/*` and read /files; bob
/// (argon2) and node1 (a client certificate) are `nodes` and may pull everything; anonymous
/// gets nothing.
pub fn auth_file(work: &Path) -> PathBuf {
    let text = format!(
        "users:\n  - {{name: alice, password: \"{}\"}}\n  - {{name: bob, password: \"{}\"}}\n  - {{name: node1, certificate: {{cn: node1.site.test}}}}\ngroups: {{nodes: [bob, node1]}}\nrules:\n  - {{who: [alice], allow: [\"registry.test/library/*\", \"/files/*\"]}}\n  - {{who: [group:nodes], allow: [\"registry.test/*\", \"/files/*\"]}}\n",
        htpasswd("alice", "alice-pw"),
        argon2(work, "bob-pw"),
    );
    let path = work.join("auth.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn skopeo_inspect(
    server: &Server,
    creds: Option<(&str, &str)>,
    repository: &str,
) -> std::process::Output {
    let mut cmd = Command::new("skopeo");
    cmd.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some((flag, value)) = creds {
        cmd.args([flag, value]);
    }
    cmd.arg(format!("docker://{}/{repository}:1", server.addr()));
    cmd.output().unwrap()
}

/// A token from `GET /token` for `scopes`, with curl's `-u USER:PASSWORD`.
pub fn token(server: &Server, user: &str, scopes: &[&str]) -> (u16, serde_json::Value) {
    let mut url = format!("{}/token?service={}", server.url(), server.addr());
    for scope in scopes {
        url.push_str(&format!("&scope={scope}"));
    }
    let reply = http("GET", &url, &["-u", user]);
    (
        reply.status,
        serde_json::from_slice(&reply.body).unwrap_or_default(),
    )
}

pub fn claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    json(
        &String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap(),
    )
}

pub fn manifest_url(server: &Server, repository: &str) -> String {
    format!("{}/v2/{repository}/manifests/1", server.url())
}

pub const ACCEPT: &str = "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// A client certificate for `cn`, signed by a CA made here; returns (ca.crt, cert, key).
pub fn client_ca(dir: &Path, name: &str, cn: &str) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} client CA"));
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let mut params = rcgen::CertificateParams::new(vec![cn.to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let paths = (
        dir.join(format!("{name}-ca.crt")),
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// One HTTP/1.1 request on a kept-alive connection; returns the status.
pub fn exchange(stream: &mut BufReader<TcpStream>, request: &str) -> u16 {
    stream.get_mut().write_all(request.as_bytes()).unwrap();
    let mut status = 0;
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        stream.read_line(&mut line).unwrap();
        if status == 0 {
            status = line.split(' ').nth(1).unwrap().parse().unwrap();
        } else if line == "\r\n" {
            break;
        } else if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    status
}

/// A blocking connection from `local` (127.0.0.2 for the attacker) to `server` (host:port).
pub fn connect_from(local: &str, server: &str) -> BufReader<TcpStream> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(format!("{local}:0").parse::<SocketAddr>().unwrap())
            .unwrap();
        socket.connect(server.parse().unwrap()).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    BufReader::new(stream)
}

pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// `token`'s claims, changed by `edit`, signed with the PKCS#8 PEM `key` (ES256).
pub fn resign(token: &str, key: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::DecodePrivateKey as _;
    let mut parts = token.split('.');
    let header = parts.next().unwrap();
    let mut claims = claims(token);
    edit(&mut claims);
    let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(key).unwrap();
    let signature: p256::ecdsa::Signature = key.sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}
