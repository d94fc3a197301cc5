//! The release manifest parser: any text gives a manifest or an error with a position.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(release) = outpost::manifest::Release::parse(std::path::Path::new("f.yaml"), text)
        {
            let _ = release.canonical_digest();
            let _ = release.platforms();
            let _ = release.upstreams();
            let _ = release.bundle_stem();
        }
        let _ = outpost::reference::parse(text);
        let _ = outpost::manifest::parse_upstream(text);
    }
});
