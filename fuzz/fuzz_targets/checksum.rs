//! Checksum files as upstreams publish them (bare hex, `sha256sum` lines, SHA256SUMS lists).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (content, name) = text.split_once('\0').unwrap_or((text, "kubelet"));
        let _ = outpost::checksum::parse_checksum_file(content, name);
        let _ = outpost::checksum::parse_hex(content);
    }
});
