//! The bundle tar reader, whole and split into parts: any bytes give an opened bundle or an
//! error (never a panic, never a read outside the files).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sha2::Digest as _;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = dir.path().join("b.tar");
    std::fs::write(&tar, body).expect("write");
    read_all(&tar);

    // The same bytes as two parts with a parts list, cut where the first byte says.
    let at = (cut as usize * body.len()) / 256;
    let (first, second) = body.split_at(at);
    let parts: Vec<serde_json::Value> = [("s.tar.001", first), ("s.tar.002", second)]
        .iter()
        .map(|(name, bytes)| {
            std::fs::write(dir.path().join(name), bytes).expect("write part");
            serde_json::json!({
                "name": name,
                "size": bytes.len(),
                "sha256": format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes))),
            })
        })
        .collect();
    let list = serde_json::json!({
        "format": 1, "bundle": "s.tar", "size": body.len(),
        "indexDigest": format!("sha256:{}", "0".repeat(64)), "partSize": at.max(1), "parts": parts,
    });
    let list_path = dir.path().join("s.parts.json");
    std::fs::write(&list_path, serde_json::to_vec(&list).expect("json")).expect("write list");
    read_all(&list_path);
    // A parts list that is itself garbage.
    std::fs::write(&list_path, body).expect("write list");
    read_all(&list_path);
});

fn read_all(path: &std::path::Path) {
    if let Ok(file) = outpost::bundle::parts::BundleFile::open(path) {
        let _ = outpost::bundle::open::scan(&file);
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut file.checking_reader(), &mut sink);
    }
    let _ = outpost::bundle::inspect::inspect(path);
    let _ = outpost::bundle::open::OpenBundle::open(path, None);
}
