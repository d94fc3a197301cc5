//! The server's request path grammars: `/v2/…` routes, `/files` and `/apt` paths, and
//! `Range` headers. Any input gives a route or an error; file paths never escape.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = outpost::server::path::parse(text);
        let _ = outpost::server::path::valid_name(text);
        if let Ok(request) = outpost::server::mirror::parse_file_path(text) {
            use outpost::server::mirror::FileRequest;
            let (FileRequest::Directory(path) | FileRequest::Entry(path)) = request;
            assert!(
                !path
                    .split('/')
                    .any(|segment| segment == ".." || segment == "."),
                "a parsed file path kept a dot segment: {path:?}"
            );
            assert!(
                !path.starts_with('/'),
                "a parsed file path is absolute: {path:?}"
            );
        }
        for size in [0u64, 1, 4096, u64::MAX] {
            let _ = outpost::server::range::answer(Some(text), size);
        }
    }
});
