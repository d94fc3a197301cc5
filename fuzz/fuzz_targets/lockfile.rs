//! The lockfile reader: any bytes give a lockfile or an error; a lockfile read back from its
//! canonical bytes is the same lockfile.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("f.lock");
    if let Ok(lock) = outpost::lock::Lockfile::from_bytes(path, data) {
        let bytes = lock.to_bytes();
        let again =
            outpost::lock::Lockfile::from_bytes(path, &bytes).expect("canonical bytes parse");
        assert_eq!(again.to_bytes(), bytes, "canonical form is stable");
    }
});
