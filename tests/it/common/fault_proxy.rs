//! A fault-injecting HTTP proxy in front of an upstream registry: it damages or cuts the
//! responses for one blob. Not a general proxy: one request per connection, no TLS.

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
}

/// An HTTP proxy in front of the registry that damages responses for one blob.
pub struct FaultProxy {
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub fn start(upstream: u16, blob_digest: &str, fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let target = format!("/blobs/{blob_digest}");
        let counter = hits.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let target = target.clone();
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let _ = proxy_one(client, upstream, &target, fault, &counter);
                });
            }
        });
        FaultProxy { port, hits }
    }
}

fn proxy_one(
    mut client: TcpStream,
    upstream: u16,
    target: &str,
    fault: Fault,
    hits: &AtomicUsize,
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
    let is_target = lines[0].starts_with("GET ") && lines[0].contains(target);
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
            Fault::DropFirst(_) => {}
        }
    }
    client.write_all(&response)?;
    client.shutdown(std::net::Shutdown::Both)
}
