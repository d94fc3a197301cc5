//! A fault-injecting HTTP proxy in front of an upstream registry or file server: it damages
//! or cuts the responses for one blob (or one path), or refuses Range requests as some CDNs
//! do. Not a general proxy: one request per connection, no TLS.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What the proxy does to GETs of one blob.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Flip one byte in the middle of the body, every time.
    CorruptAlways,
    /// Send half the body, then close the connection, the first `n` times.
    DropFirst(usize),
    /// Answer 416 to any open-ended Range (`bytes=N-`, `bytes=0-` included).
    RefuseOpenEndedRanges,
    /// Answer 400 to any Range, and cut every other whole body (the 1st, 3rd, …) in half.
    RefuseRangesDropOdd,
}

/// Which requests a [`FaultProxy`] applies its fault to.
#[derive(Clone, Debug)]
enum Target {
    /// GETs whose request line contains this (`/blobs/<digest>`).
    Contains(String),
    /// GETs whose path (without the query) ends with this.
    PathEndsWith(String),
}

impl Target {
    fn matches(&self, request_line: &str) -> bool {
        if !request_line.starts_with("GET ") {
            return false;
        }
        match self {
            Target::Contains(needle) => request_line.contains(needle.as_str()),
            Target::PathEndsWith(suffix) => request_line
                .split(' ')
                .nth(1)
                .map(|path| path.split('?').next().unwrap_or(path))
                .is_some_and(|path| path.ends_with(suffix.as_str())),
        }
    }
}

/// An HTTP proxy in front of the registry that damages responses for one blob.
pub struct FaultProxy {
    pub port: u16,
    /// Responses with a body to the target that reached the fault.
    pub hits: Arc<AtomicUsize>,
    /// Requests to the target that carried a Range header.
    pub ranged: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub fn start(upstream: u16, blob_digest: &str, fault: Fault) -> Self {
        Self::start_with(
            upstream,
            Target::Contains(format!("/blobs/{blob_digest}")),
            fault,
        )
    }

    /// A proxy applying `fault` to GETs whose path ends with `suffix` (a manifest's
    /// `/manifests/1`, a file's path, or `/blobs/` … for every blob: use [`FaultProxy::start`]).
    pub fn start_on_path(upstream: u16, suffix: &str, fault: Fault) -> Self {
        Self::start_with(upstream, Target::PathEndsWith(suffix.to_string()), fault)
    }

    /// A proxy applying `fault` to every blob GET.
    pub fn start_on_blobs(upstream: u16, fault: Fault) -> Self {
        Self::start_with(upstream, Target::Contains("/blobs/sha256:".into()), fault)
    }

    fn start_with(upstream: u16, target: Target, fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let ranged = Arc::new(AtomicUsize::new(0));
        let counters = (hits.clone(), ranged.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let target = target.clone();
                let counters = counters.clone();
                std::thread::spawn(move || {
                    let _ = proxy_one(client, upstream, &target, fault, &counters.0, &counters.1);
                });
            }
        });
        FaultProxy { port, hits, ranged }
    }
}

/// The status line a Range fault answers a ranged request with, if it does.
fn refuse_range(fault: Fault, range: &str) -> Option<&'static str> {
    match fault {
        Fault::RefuseOpenEndedRanges if range.trim_end().ends_with('-') => {
            Some("416 Range Not Satisfiable")
        }
        Fault::RefuseRangesDropOdd => Some("400 Bad Request"),
        _ => None,
    }
}

fn proxy_one(
    mut client: TcpStream,
    upstream: u16,
    target: &Target,
    fault: Fault,
    hits: &AtomicUsize,
    ranged: &AtomicUsize,
) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        request.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&request).into_owned();
    let mut lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    lines.retain(|l| !l.to_ascii_lowercase().starts_with("connection:"));
    let is_target = target.matches(lines[0]);
    let range = lines.iter().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("range")
            .then(|| value.trim().to_string())
    });
    if let (true, Some(range)) = (is_target, &range) {
        ranged.fetch_add(1, Ordering::SeqCst);
        if let Some(status) = refuse_range(fault, range) {
            let body = "range refused";
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            client.write_all(reply.as_bytes())?;
            return client.shutdown(std::net::Shutdown::Both);
        }
    }
    let forwarded = format!("{}\r\nConnection: close\r\n\r\n", lines.join("\r\n"));
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.write_all(forwarded.as_bytes())?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(response.len());
    if is_target && response.len() > split {
        let hit = hits.fetch_add(1, Ordering::SeqCst);
        let body_len = response.len() - split;
        match fault {
            Fault::CorruptAlways => response[split + body_len / 2] ^= 0xff,
            Fault::DropFirst(n) if hit < n => {
                client.write_all(&response[..split + body_len / 2])?;
                return client.shutdown(std::net::Shutdown::Both);
            }
            Fault::RefuseRangesDropOdd if hit.is_multiple_of(2) => {
                client.write_all(&response[..split + body_len / 2])?;
                return client.shutdown(std::net::Shutdown::Both);
            }
            Fault::DropFirst(_) | Fault::RefuseRangesDropOdd | Fault::RefuseOpenEndedRanges => {}
        }
    }
    client.write_all(&response)?;
    client.shutdown(std::net::Shutdown::Both)
}
