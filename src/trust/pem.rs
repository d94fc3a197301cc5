//! PEM blocks in and out (certificates, public keys), and the "PEM or base64 of PEM" form
//! some publishers use for certificates. Pure.

use base64::Engine as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Every PEM block of `text` as (label, DER), in order. Text outside blocks is ignored.
pub fn decode_all(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        {
            current = Some((label.to_string(), String::new()));
        } else if line.starts_with("-----END ") {
            if let Some((label, body)) = current.take() {
                if let Ok(der) = B64.decode(body.as_bytes()) {
                    blocks.push((label, der));
                }
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
        }
    }
    blocks
}

/// The first block labelled `label`.
pub fn decode_first(text: &str, label: &str) -> Option<Vec<u8>> {
    decode_all(text)
        .into_iter()
        .find(|(found, _)| found == label)
        .map(|(_, der)| der)
}

#[cfg(test)]
/// A PEM block with 64-column lines, as Go's and OpenSSL's encoders write it.
pub fn encode(label: &str, der: &[u8]) -> String {
    let body = B64.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(chunk));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// Bytes that may be base64 text (a `.sig` file, an annotation) or raw: decoded if they are
/// base64, else as they are.
pub fn base64_or_raw(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let compact: String = text.split_whitespace().collect();
    match B64.decode(compact.as_bytes()) {
        Ok(decoded) if !compact.is_empty() => decoded,
        _ => bytes.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_and_decode_round_trip() {
        let der = vec![7u8; 100];
        let pem = encode("CERTIFICATE", &der);
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(decode_first(&pem, "CERTIFICATE").unwrap(), der);
        assert_eq!(decode_all(&format!("junk\n{pem}{pem}")).len(), 2);
        assert!(decode_first("nothing", "CERTIFICATE").is_none());
    }

    #[test]
    fn signatures_may_be_base64_or_raw() {
        assert_eq!(base64_or_raw(b"AQID\n"), vec![1, 2, 3]);
        assert_eq!(base64_or_raw(&[0x30, 0x45, 0xff]), vec![0x30, 0x45, 0xff]);
    }
}
