//! `--help` of `outpost` and of every subcommand, snapshotted whole: the text a user reads
//! first. The commands are found by walking each help's `Commands:` list, so a new command
//! gets its snapshot (and a review) too. Not for behaviour: each command's tests check that.

use crate::common::*;
use std::process::{Command, Stdio};

/// `outpost ARGS --help` as a user with no `OUTPOST_*` settings sees it, 100 columns wide.
fn help(args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_outpost"));
    cmd.args(args).arg("--help");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OUTPOST_") {
            cmd.env_remove(&name);
        }
    }
    let out = cmd
        .env_remove("DOCKER_CONFIG")
        .env("COLUMNS", "100")
        .stdin(Stdio::null())
        .output()
        .expect("run outpost --help");
    assert!(
        out.status.success(),
        "outpost {args:?} --help failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The subcommands a help text lists under `Commands:` (clap's own `help` left out).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim_end() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_help_text_matches_its_snapshot() {
    let _filters = snapshot_settings().bind_to_scope();
    let mut pending: Vec<Vec<String>> = vec![Vec::new()];
    let mut seen = Vec::new();
    while let Some(path) = pending.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let text = help(&args);
        let command: Vec<&str> = std::iter::once("outpost")
            .chain(args.iter().copied())
            .collect();
        let name = command.join("_");
        insta::assert_snapshot!(
            format!("help_{name}"),
            text,
            &format!("{} --help", command.join(" "))
        );
        for sub in subcommands(&text) {
            let mut child = path.clone();
            child.push(sub);
            pending.push(child);
        }
        seen.push(name);
    }
    // The walk found the commands the README documents, nested ones included.
    for expected in [
        "outpost",
        "outpost_key_generate",
        "outpost_lock",
        "outpost_bundle_build",
        "outpost_bundle_verify",
        "outpost_bundle_inspect",
        "outpost_bundle_join",
        "outpost_bundle_diff",
        "outpost_bundle_sbom",
        "outpost_load",
        "outpost_store_list",
        "outpost_push",
        "outpost_serve",
        "outpost_config_containerd",
        "outpost_config_apt",
        "outpost_config_dnf",
        "outpost_config_check",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "{expected} not found: {seen:?}"
        );
    }
}
