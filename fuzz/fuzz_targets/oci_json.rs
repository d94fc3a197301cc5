//! OCI manifest/index JSON handling: parsing, children, platform selection, and the walk
//! that decides which blobs a bundle carries.
#![no_main]
use libfuzzer_sys::fuzz_target;
use outpost::bundle::graph::{Carried, Role};

fuzz_target!(|data: &[u8]| {
    for hint in [
        None,
        Some(outpost::oci::OCI_INDEX),
        Some(outpost::oci::DOCKER_MANIFEST),
    ] {
        if let Ok(parsed) = outpost::oci::Parsed::from_bytes(data, hint) {
            let _ = parsed.media_type();
            let _ = parsed.children();
        }
    }
    let _ = serde_json::from_slice::<outpost::oci::LayoutIndex>(data);
    let parent = Carried {
        descriptor: outpost::oci::Descriptor {
            media_type: outpost::oci::OCI_INDEX.into(),
            digest: outpost::digest::Digest::of(data),
            size: data.len() as u64,
            platform: None,
            artifact_type: None,
            annotations: Default::default(),
        },
        role: Role::Manifest,
        owner: "fuzz/image:1".into(),
        platforms: vec!["linux/amd64".parse().expect("platform")],
    };
    let _ = parent.children(data);
    // The typed head reads any index.json-shaped input without panicking.
    let _ = outpost::bundle::head::BundleHead::parse(data);
});
