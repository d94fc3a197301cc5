//! Parity parts (issue 17): a bundle split into 8 parts with `--parity 2` survives any 2
//! lost or damaged parts: `bundle verify` names them and says it can repair, `bundle repair`
//! rebuilds them byte for byte; 3 lost parts are refused with nothing written. `serve` and
//! `load` refuse a bundle with a missing part, naming the `bundle repair` command to run first.

use crate::common::*;
use std::path::{Path, PathBuf};

const IMAGES: [&str; 2] = ["library/alpha:1", "library/multi:1"];
const LIST: &str = "split/edge-1.0.parts.json";

/// A split bundle of 8 data parts + `parity` parity parts (0: none) in `split/`.
struct Split {
    site: Site,
    /// Every part's file name, data first, then parity.
    names: Vec<String>,
    /// Their sha256 as built.
    sums: Vec<String>,
}

impl Split {
    fn build(parity: usize) -> Split {
        let site = Site::new();
        let whole = site.build("linux/amd64", &IMAGES);
        let size = std::fs::metadata(&whole).unwrap().len();
        let work = site.work();
        let part = size.div_ceil(8).to_string();
        let mut args = vec![
            "bundle",
            "build",
            "edge.yaml",
            "--locked",
            "--out",
            "split",
            "--split-size",
            &part,
        ];
        let parity_text = parity.to_string();
        if parity > 0 {
            args.extend(["--parity", &parity_text]);
        }
        let out = outpost_ok(work, &args);
        assert!(out.contains("parts:    8 parts"), "{out}");
        let list = read_json(&work.join(LIST));
        let mut names: Vec<String> = list["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names.len(), 8);
        if parity > 0 {
            assert!(out.contains("+ 2 parity parts"), "{out}");
            let written = list["parity"]["parts"].as_array().unwrap();
            names.extend(
                written
                    .iter()
                    .map(|p| p["name"].as_str().unwrap().to_string()),
            );
        }
        assert_eq!(names.len(), 8 + parity);
        let split = Split {
            site,
            names,
            sums: Vec::new(),
        };
        let sums = (0..split.names.len()).map(|i| split.sum(i)).collect();
        Split { sums, ..split }
    }

    fn work(&self) -> &Path {
        self.site.work()
    }

    fn path(&self, index: usize) -> PathBuf {
        self.work().join("split").join(&self.names[index])
    }

    fn sum(&self, index: usize) -> String {
        sha256_file(&self.path(index))
    }

    fn flip(&self, index: usize) {
        let path = self.path(index);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x5a;
        std::fs::write(&path, bytes).unwrap();
    }

    /// Every part is back as built, and verify passes.
    fn assert_whole(&self) {
        for index in 0..self.names.len() {
            assert_eq!(self.sum(index), self.sums[index], "{}", self.names[index]);
        }
        let out = outpost_ok(
            self.work(),
            &["bundle", "verify", LIST, "--key", "keys/outpost.pub"],
        );
        assert!(out.contains("all 8+2 parts are intact"), "{out}");
    }
}

#[test]
fn any_two_lost_or_damaged_parts_of_eight_plus_two_are_rebuilt() {
    let split = Split::build(2);
    let work = split.work();
    split.assert_whole();
    // Every pair lost: data+data, data+parity, parity+parity (28 pairs); then a sample of
    // pairs damaged in place (a flipped byte each).
    let mut cases: Vec<(usize, usize, bool)> = Vec::new();
    for a in 0..10 {
        for b in a + 1..10 {
            cases.push((a, b, false));
        }
    }
    cases.extend([(0, 7, true), (2, 3, true), (4, 9, true), (8, 9, true)]);
    for (a, b, damaged) in cases {
        for index in [a, b] {
            if damaged {
                split.flip(index);
            } else {
                std::fs::remove_file(split.path(index)).unwrap();
            }
        }
        let err = verify_fails(work, Path::new(LIST), "keys/outpost.pub");
        let what = if damaged {
            "sha256 mismatch"
        } else {
            "is missing"
        };
        for index in [a, b] {
            assert!(err.contains(&split.names[index]), "{a} {b}: {err}");
        }
        assert!(
            err.contains("2 of 8+2 parts lost or damaged")
                && err.contains(what)
                && err.contains("can repair: run `outpost bundle repair"),
            "{a} {b}: {err}"
        );
        let out = outpost_ok(work, &["bundle", "repair", LIST]);
        assert!(out.contains("repaired 2 parts of 8+2"), "{out}");
        split.assert_whole();
    }
    // `--json` gives each part's state.
    std::fs::remove_file(split.path(1)).unwrap();
    split.flip(9);
    let out = outpost(
        work,
        &[
            "bundle",
            "verify",
            LIST,
            "--key",
            "keys/outpost.pub",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let report = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["ok"], false);
    assert_eq!(report["repairable"], true);
    let states: Vec<&str> = report["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    let mut expected = vec!["intact"; 10];
    expected[1] = "missing";
    expected[9] = "damaged";
    assert_eq!(states, expected);
    outpost_ok(work, &["bundle", "repair", "split/edge-1.0.tar.001"]);
    split.assert_whole();
    let out = outpost_ok(work, &["bundle", "repair", LIST]);
    assert!(out.contains("nothing to repair"), "{out}");
}

#[test]
fn three_lost_parts_of_eight_plus_two_cannot_be_repaired() {
    let split = Split::build(2);
    let work = split.work();
    for index in [0, 4, 9] {
        std::fs::remove_file(split.path(index)).unwrap();
    }
    let err = verify_fails(work, Path::new(LIST), "keys/outpost.pub");
    assert!(
        err.contains("3 of 8+2 parts lost or damaged") && err.contains("cannot repair"),
        "{err}"
    );
    let err = outpost_fails(work, &["bundle", "repair", LIST], 3);
    assert!(err.contains("cannot repair"), "{err}");
    for index in [0, 4, 9] {
        assert!(!split.path(index).exists(), "{}", split.names[index]);
    }
    let leftovers: Vec<String> = std::fs::read_dir(work.join("split"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn serve_and_load_ask_for_repair_when_a_data_part_is_missing() {
    let split = Split::build(2);
    let work = split.work();
    std::fs::remove_file(split.path(2)).unwrap();
    let hint = "run `outpost bundle repair";
    let (code, err) = serve_exits(work, LIST, "with a part missing");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("part 3 of 8") && err.contains(hint), "{err}");
    let err = outpost_fails(work, &["load", LIST, "--store", "store"], 3);
    assert!(err.contains("part 3 of 8") && err.contains(hint), "{err}");
    assert_eq!(store_releases(work, "store"), 0);
    outpost_ok(work, &["bundle", "repair", LIST]);
    let out = outpost_ok(work, &["load", LIST, "--store", "store"]);
    assert!(out.contains("loaded edge 1.0"), "{out}");
}

#[test]
fn parity_is_added_to_an_existing_split() {
    let split = Split::build(0);
    let work = split.work();
    let out = outpost_ok(
        work,
        &[
            "bundle",
            "parity",
            "split/edge-1.0.tar.001",
            "--parity",
            "2",
        ],
    );
    assert!(out.contains("parity: 2 parts"), "{out}");
    let list = read_json(&work.join(LIST));
    assert_eq!(list["parity"]["parts"].as_array().unwrap().len(), 2);
    assert_eq!(list["parity"]["dataParts"], 8);
    // The data parts are untouched and `cat NAME.tar.*` still gives the whole tar.
    for index in 0..8 {
        assert_eq!(split.sum(index), split.sums[index]);
    }
    let whole: Vec<u8> = (0..8)
        .flat_map(|i| std::fs::read(split.path(i)).unwrap())
        .collect();
    let tar = std::fs::read(work.join("bundles/edge-1.0.tar")).unwrap();
    assert_eq!(sha256_hex(&whole), sha256_hex(&tar));
    let out = outpost_ok(
        work,
        &["bundle", "verify", LIST, "--key", "keys/outpost.pub"],
    );
    assert!(out.contains("all 8+2 parts are intact"), "{out}");
    // A damaged data part is not covered by parity (it would rebuild the damage).
    split.flip(5);
    let err = outpost_fails(work, &["bundle", "parity", LIST, "--parity", "1"], 3);
    assert!(err.contains("part 6 of 8"), "{err}");
    let err = outpost_fails(
        work,
        &["bundle", "parity", "bundles/edge-1.0.tar", "--parity", "1"],
        2,
    );
    assert!(err.contains("not a split bundle"), "{err}");
}
