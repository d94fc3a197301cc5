//! Split bundles for FAT32 sticks: `--split-size` parts and their list, read in place by
//! verify/inspect/serve, a missing or damaged part named precisely, and `bundle join`
//! giving back the unsplit tar byte for byte.

use crate::common::*;
use std::path::Path;

const IMAGES: [&str; 3] = ["bench/app0:1", "bench/app1:1", "bench/app2:1"];
const PART: u64 = 10 << 20;
const LIST: &str = "split/edge-1.0.parts.json";

/// `bundle verify` of the split bundle fails with exit 3; its message.
fn split_verify_fails(work: &Path) -> String {
    verify_fails(work, Path::new(LIST), "keys/outpost.pub")
}

/// `bundle build edge.yaml --locked --out split --split-size 10MiB`; what it printed.
fn build_split(work: &Path) -> String {
    outpost_ok(
        work,
        &[
            "bundle",
            "build",
            "edge.yaml",
            "--locked",
            "--out",
            "split",
            "--split-size",
            "10MiB",
        ],
    )
}

fn parts_of(list: &Path) -> Vec<(String, u64)> {
    read_json(list)["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn split_bundle_verifies_serves_and_joins_byte_identical() {
    let (registry, dir) = big_site(8);
    let work = dir.path();
    write_manifest(work, "edge.yaml", "linux/amd64", &IMAGES, registry.port);
    outpost_ok(work, &["bundle", "build", "edge.yaml", "--out", "whole"]);
    let out = build_split(work);
    assert!(out.contains("parts:"), "{out}");
    let whole = work.join("whole/edge-1.0.tar");
    let whole_len = std::fs::metadata(&whole).unwrap().len();
    assert!(whole_len >= 50 << 20, "bundle is {whole_len} bytes");
    assert!(!work.join("split/edge-1.0.tar").exists());

    // Every part is at most 10 MiB, they add up to the whole, and the list names them all.
    let list = work.join("split/edge-1.0.parts.json");
    let parts = parts_of(&list);
    assert_eq!(parts.len() as u64, whole_len.div_ceil(PART));
    for (name, size) in &parts {
        let actual = std::fs::metadata(work.join("split").join(name))
            .unwrap()
            .len();
        assert!(actual <= PART, "{name} is {actual} bytes");
        assert_eq!(actual, *size, "{name}");
    }
    assert_eq!(parts.iter().map(|p| p.1).sum::<u64>(), whole_len);

    // verify and inspect accept the list, any part, or the tar's name beside the list.
    for given in [
        "split/edge-1.0.parts.json",
        "split/edge-1.0.tar.003",
        "split/edge-1.0.tar",
    ] {
        let out = outpost_ok(
            work,
            &["bundle", "verify", given, "--key", "keys/outpost.pub"],
        );
        assert!(out.starts_with("OK "), "{given}: {out}");
    }
    let inspected = json(&outpost_ok(
        work,
        &["bundle", "inspect", "split/edge-1.0.tar.001", "--json"],
    ));
    assert_eq!(inspected["parts"].as_u64(), Some(parts.len() as u64));
    assert_eq!(inspected["images"].as_array().unwrap().len(), 3);

    // A rebuild with the same split leaves the parts alone.
    let again = build_split(work);
    assert!(again.contains("unchanged"), "{again}");

    // serve reads the parts in place: skopeo copies every image, digests equal the pins.
    let server = Server::start(work, &["split/edge-1.0.parts.json"]);
    pull_all(&server, work, &pins(work, "edge.lock"));
    drop(server);

    // load reads the parts in place too.
    let loaded = outpost_ok(
        work,
        &["load", "split/edge-1.0.tar.002", "--store", "store"],
    );
    assert!(loaded.contains("loaded edge 1.0"), "{loaded}");
    outpost_ok(work, &["store", "verify", "--store", "store"]);

    // join gives back the unsplit tar, byte for byte.
    let out = outpost_ok(
        work,
        &[
            "bundle",
            "join",
            "split/edge-1.0.parts.json",
            "--out",
            "joined.tar",
        ],
    );
    assert!(out.contains("joined"), "{out}");
    assert!(
        std::fs::read(work.join("joined.tar")).unwrap() == std::fs::read(&whole).unwrap(),
        "joined tar differs from the unsplit build"
    );

    // One flipped byte in part 4 is named as part 4; join refuses it too.
    let count = parts.len();
    let part4 = work.join("split").join(&parts[3].0);
    let original = std::fs::read(&part4).unwrap();
    let mut damaged = original.clone();
    damaged[original.len() / 2] ^= 0x20;
    std::fs::write(&part4, &damaged).unwrap();
    let err = split_verify_fails(work);
    assert!(
        err.contains(&format!("part 4 of {count}")) && err.contains("sha256 mismatch"),
        "{err}"
    );
    let err = outpost_fails(
        work,
        &[
            "bundle",
            "join",
            "split/edge-1.0.parts.json",
            "--out",
            "j2.tar",
        ],
        3,
    );
    assert!(err.contains(&format!("part 4 of {count}")), "{err}");
    assert!(!work.join("j2.tar").exists());
    std::fs::write(&part4, &original).unwrap();

    // A damaged tar header (not blob content) is named by its part too: the header of the
    // first entry that starts in part 3.
    let (_, offset, _) = tar_entries(&whole)
        .into_iter()
        .find(|(_, offset, _)| offset - 512 >= 2 * PART)
        .unwrap();
    let header_at = offset - 512;
    let index = (header_at / PART) as usize;
    let part = work.join("split").join(&parts[index].0);
    let original = std::fs::read(&part).unwrap();
    let mut damaged = original.clone();
    damaged[(header_at % PART) as usize + 100] ^= 0x01; // inside the mode field
    std::fs::write(&part, &damaged).unwrap();
    let err = split_verify_fails(work);
    assert!(
        err.contains(&format!("part {} of {count}", index + 1)),
        "{err}"
    );
    std::fs::write(&part, &original).unwrap();

    // A missing part is named before anything is read, by every command.
    let part2 = work.join("split").join(&parts[1].0);
    std::fs::rename(&part2, work.join("aside")).unwrap();
    for args in [
        vec!["bundle", "verify", LIST, "--key", "keys/outpost.pub"],
        vec!["bundle", "inspect", LIST],
    ] {
        let err = outpost_fails(work, &args, 3);
        assert!(
            err.contains(&format!("part 2 of {count}")) && err.contains("missing"),
            "{err}"
        );
    }
    std::fs::rename(work.join("aside"), &part2).unwrap();

    // A truncated final part is named with its size.
    let last = work.join("split").join(&parts[count - 1].0);
    let bytes = std::fs::read(&last).unwrap();
    std::fs::write(&last, &bytes[..bytes.len() - 700]).unwrap();
    let err = split_verify_fails(work);
    assert!(err.contains(&format!("part {count} of {count}")), "{err}");
}
