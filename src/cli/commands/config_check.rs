//! `outpost config check`: the registries of the bundles, checked against the runtime
//! configuration under a node's root; a table (or `--json`) of runtime × registry, and exit
//! status 3 when one would pull past the mirrors.

use super::{open_for_config, print_json, CommandError};
use crate::cli::exit::CliError;
use crate::cli::settings::CheckSettings;
use outpost::nodeconfig::check::{self, tree, Check, Report, Status, TalosConfig};
use std::collections::BTreeSet;

pub fn config_check(settings: &CheckSettings) -> Result<(), CliError> {
    let mut registries = BTreeSet::new();
    for path in &settings.bundles {
        let bundle = open_for_config(path, &settings.trust)?;
        registries.extend(bundle.registries());
    }
    let registries: Vec<String> = registries.into_iter().collect();
    let talos_text = match &settings.talos {
        Some(path) => Some((path.display().to_string(), tree::read_bounded(path)?)),
        None => None,
    };
    let talos = talos_text
        .as_ref()
        .map(|(name, text)| TalosConfig { name, text });
    let node = tree::RootDir::new(&settings.node_root);
    let report = check::check_node(&node, &registries, &settings.rule, talos)?;
    if settings.json {
        print_json(&json(&report));
    } else {
        print!("{}", table(&report));
    }
    let failing = report
        .checks
        .iter()
        .filter(|c| c.status() != Status::Ok)
        .count();
    if failing > 0 {
        return Err(CommandError::PullsPastMirrors {
            failing,
            checked: report.checks.len(),
        }
        .into());
    }
    Ok(())
}

/// `file:line key: message`, as much of it as is known.
fn place(file: &str, line: Option<usize>, key: Option<&str>) -> String {
    let mut text = file.to_string();
    if let Some(line) = line {
        text.push_str(&format!(":{line}"));
    }
    if let Some(key) = key {
        text.push_str(&format!(" {key}"));
    }
    text
}

/// The rule, one row per fault (or one `OK` row), notes under their row, and a verdict.
fn table(report: &Report) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut notes: Vec<(usize, String)> = Vec::new();
    for check in &report.checks {
        let head = |status: &str| {
            [
                check.runtime.name().to_string(),
                check.registry.clone(),
                status.to_string(),
            ]
        };
        if check.faults.is_empty() {
            let [r, g, s] = head(Status::Ok.label());
            rows.push([r, g, s, check.file.clone()]);
        }
        for fault in &check.faults {
            let [r, g, s] = head(fault.status.label());
            let at = place(&fault.file, fault.line, fault.key.as_deref());
            rows.push([r, g, s, format!("{at}: {}", fault.message)]);
        }
        notes.extend(check.notes.iter().map(|n| (rows.len(), n.clone())));
    }
    let header = [
        "RUNTIME".to_string(),
        "REGISTRY".to_string(),
        "STATUS".to_string(),
        "WHERE".to_string(),
    ];
    let widths: Vec<usize> = (0..3)
        .map(|i| {
            rows.iter()
                .chain([&header])
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: &[String; 4]| {
        format!(
            "{:w0$}  {:w1$}  {:w2$}  {}\n",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
        .trim_end()
        .to_string()
            + "\n"
    };
    let mut text = format!("{}\n", report.rule);
    text.push_str(&line(&header));
    for (i, row) in rows.iter().enumerate() {
        text.push_str(&line(row));
        for (_, note) in notes.iter().filter(|(after, _)| *after == i + 1) {
            text.push_str(&format!("  note: {note}\n"));
        }
    }
    text.push_str(if report.passes() {
        "every pull stays on the mirrors\n"
    } else {
        "FAILED: a node with this configuration would pull past the mirrors\n"
    });
    text
}

fn json(report: &Report) -> serde_json::Value {
    let check = |c: &Check| {
        serde_json::json!({
            "runtime": c.runtime.name(),
            "registry": c.registry,
            "status": c.status().label(),
            "file": c.file,
            "faults": c.faults.iter().map(|f| serde_json::json!({
                "status": f.status.label(),
                "file": f.file,
                "line": f.line,
                "key": f.key,
                "message": f.message,
            })).collect::<Vec<_>>(),
            "notes": c.notes,
        })
    };
    serde_json::json!({
        "mirror_rule": report.rule,
        "passes": report.passes(),
        "checks": report.checks.iter().map(check).collect::<Vec<_>>(),
    })
}
