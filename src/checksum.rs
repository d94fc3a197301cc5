//! Checksum files as upstreams publish them, and the digests they promise. Pure.
//!
//! Conventions: a bare hex digest (dl.k8s.io `kubelet.sha256`, `.sha512`), one `sha256sum`
//! line (`<hex>  <name>`, containerd's `*.sha256sum`), or a list of them for several assets
//! (`SHA256SUMS`, runc's `runc.sha256sum`), from which the line for our file is taken.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        })
    }
}

/// A digest an upstream promises for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub algorithm: Algorithm,
    /// Lowercase hex.
    pub hex: String,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    #[error("the checksum file is empty")]
    Empty,
    #[error("the checksum file has no line for `{file}` (it lists: {listed})")]
    NoLine { file: String, listed: String },
    #[error("`{0}` is not a sha256 or sha512 hex digest")]
    NotHex(String),
}

/// Parses a hex digest whose length tells the algorithm.
pub fn parse_hex(text: &str) -> Result<Expected, ChecksumError> {
    let hex = text.trim().to_ascii_lowercase();
    let algorithm = match hex.len() {
        64 => Algorithm::Sha256,
        128 => Algorithm::Sha512,
        _ => return Err(ChecksumError::NotHex(text.trim().to_string())),
    };
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ChecksumError::NotHex(text.trim().to_string()));
    }
    Ok(Expected { algorithm, hex })
}

/// The digest a checksum file gives for the file named `file_name`.
pub fn parse_checksum_file(content: &str, file_name: &str) -> Result<Expected, ChecksumError> {
    let lines: Vec<&str> = content
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if lines.is_empty() {
        return Err(ChecksumError::Empty);
    }
    if lines.len() == 1 && lines[0].split_whitespace().count() == 1 {
        return parse_hex(lines[0]);
    }
    let mut listed = Vec::new();
    for line in &lines {
        let mut parts = line.split_whitespace();
        let (Some(hex), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        let name = name.trim_start_matches('*').trim_start_matches("./");
        let base = name.rsplit('/').next().unwrap_or(name);
        if base == file_name {
            return parse_hex(hex);
        }
        listed.push(base.to_string());
    }
    Err(ChecksumError::NoLine {
        file: file_name.to_string(),
        listed: listed.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0f8e6d3c5a2b1e4f7a9c8b6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f";

    #[test]
    fn every_upstream_convention() {
        // dl.k8s.io: bare hex, with or without a newline.
        assert_eq!(
            parse_checksum_file(&format!("{A}\n"), "kubelet")
                .unwrap()
                .hex,
            A
        );
        // containerd: one sha256sum line.
        let one = format!("{A}  containerd-1.7.22-linux-amd64.tar.gz\n");
        assert_eq!(
            parse_checksum_file(&one, "containerd-1.7.22-linux-amd64.tar.gz")
                .unwrap()
                .hex,
            A
        );
        // runc / SHA256SUMS: several lines, binary-mode `*` and `./` prefixes.
        let b = A.replace('0', "1");
        let many =
            format!("{b} *runc.arm64\n{A} *runc.amd64\n{b}  ./etcd-v3.5.15-linux-arm64.tar.gz\n");
        assert_eq!(parse_checksum_file(&many, "runc.amd64").unwrap().hex, A);
        assert_eq!(
            parse_checksum_file(&many, "etcd-v3.5.15-linux-arm64.tar.gz")
                .unwrap()
                .hex,
            b
        );
        assert_eq!(
            parse_checksum_file(&many, "runc.s390x"),
            Err(ChecksumError::NoLine {
                file: "runc.s390x".into(),
                listed: "runc.arm64, runc.amd64, etcd-v3.5.15-linux-arm64.tar.gz".into()
            })
        );
        // sha512 by length.
        let long = "ab".repeat(64);
        assert_eq!(
            parse_checksum_file(&long, "kubelet").unwrap().algorithm,
            Algorithm::Sha512
        );
        assert!(matches!(
            parse_checksum_file("nope", "x"),
            Err(ChecksumError::NotHex(_))
        ));
        assert_eq!(parse_checksum_file("\n\n", "x"), Err(ChecksumError::Empty));
    }
}
