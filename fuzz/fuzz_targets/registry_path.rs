//! The server's request path grammars: `/v2/…` routes, `/files` and `/apt` paths, and
//! `Range` headers. Any input gives a route or an error; file paths never escape.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = outpost::server::path::parse(text);
        let _ = outpost::server::path::valid_name(text);
        if let Ok(request) = outpost::server::files::parse_file_path(text) {
            let shown = format!("{request:?}");
            assert!(
                !shown.contains("\"..\""),
                "a parsed file path kept `..`: {shown}"
            );
        }
        for size in [0u64, 1, 4096, u64::MAX] {
            let _ = outpost::server::range::answer(Some(text), size);
        }
    }
});
