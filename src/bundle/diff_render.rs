//! Rendering a [`Diff`] for people: plain text (a section per kind, one line per change) and
//! Markdown (a table per kind, for a pull request or an audit record). Pure; the order is
//! the diff's own (sorted by key), so the same diff always renders the same text.

use super::diff::{Basis, Change, Diff, ReleaseSummary};
use crate::digest::Digest;
use std::fmt::Write as _;

/// `sha256:` and the first 12 hex digits.
fn short(digest: &Digest) -> String {
    digest.to_string().chars().take(19).collect()
}

fn short_opt(digest: &Option<Digest>) -> String {
    digest.as_ref().map(short).unwrap_or_default()
}

fn opt(text: &Option<String>) -> &str {
    text.as_deref().unwrap_or_default()
}

/// `OLD → NEW`, or the one side there is.
fn arrow(old: &str, new: &str) -> String {
    match (old.is_empty(), new.is_empty()) {
        (false, false) if old != new => format!("{old} → {new}"),
        (false, _) => old.to_string(),
        (true, _) => new.to_string(),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn release_line(side: &ReleaseSummary) -> String {
    let index = side
        .index_digest
        .as_ref()
        .map(|d| format!(", index {d}"))
        .unwrap_or_default();
    format!("{} {} ({}{index})", side.name, side.version, side.source)
}

fn bytes_line(diff: &Diff) -> String {
    let added = &diff.added_bytes;
    let how = match added.basis {
        Basis::Blobs => "every blob both releases carry",
        Basis::Lockfile => "the lockfiles' pins; image layers not counted",
    };
    format!(
        "{} bytes ({}) in {} blob{} ({how})",
        added.bytes,
        mib(added.bytes),
        added.blobs,
        if added.blobs == 1 { "" } else { "s" }
    )
}

/// Image details after the digests: `platforms +a -b; signers +c -d`.
fn image_notes(added: &[String], dropped: &[String], what: &str) -> Option<String> {
    if added.is_empty() && dropped.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = added.iter().map(|p| format!("+{p}")).collect();
    parts.extend(dropped.iter().map(|p| format!("-{p}")));
    Some(format!("{what} {}", parts.join(" ")))
}

/// The text report: both releases, then a section per kind that has changes, then the bytes
/// the new release adds.
pub fn text(diff: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "old: {}", release_line(&diff.old));
    let _ = writeln!(out, "new: {}", release_line(&diff.new));
    let width = 10;
    if !diff.images.is_empty() {
        let _ = writeln!(out, "\nimages:");
        for image in &diff.images {
            let mut line = format!(
                "  {:width$} {}  {}",
                image.change.word(),
                image.reference,
                arrow(&short_opt(&image.old_digest), &short_opt(&image.new_digest))
            );
            let notes: Vec<String> = [
                image.old_reference.as_ref().map(|old| format!("was {old}")),
                image_notes(
                    &image.platforms_added,
                    &image.platforms_dropped,
                    "platforms",
                ),
                image_notes(&image.signers_added, &image.signers_removed, "signers"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !notes.is_empty() {
                line.push_str(&format!("  ({})", notes.join("; ")));
            }
            let _ = writeln!(out, "{line}");
        }
    }
    if !diff.charts.is_empty() {
        let _ = writeln!(out, "\ncharts:");
        for chart in &diff.charts {
            let _ = writeln!(
                out,
                "  {:width$} {} {}  {}  {}",
                chart.change.word(),
                chart.name,
                arrow(opt(&chart.old_version), opt(&chart.new_version)),
                arrow(&short_opt(&chart.old_digest), &short_opt(&chart.new_digest)),
                chart.source
            );
        }
    }
    if !diff.files.is_empty() {
        let _ = writeln!(out, "\nfiles:");
        for file in &diff.files {
            let _ = writeln!(
                out,
                "  {:width$} {}  {}",
                file.change.word(),
                file.path,
                arrow(&short_opt(&file.old_sha256), &short_opt(&file.new_sha256))
            );
        }
    }
    if !diff.debs.is_empty() {
        let _ = writeln!(out, "\ndebian packages:");
        for deb in &diff.debs {
            let _ = writeln!(
                out,
                "  {:width$} {}:{}  {}",
                deb.change.word(),
                deb.name,
                deb.arch,
                arrow(opt(&deb.old_version), opt(&deb.new_version))
            );
        }
    }
    if diff.is_empty() {
        let _ = writeln!(out, "\nno changes to images, charts, files or packages");
    }
    let _ = writeln!(out, "\nthe new release adds {}", bytes_line(diff));
    out
}

/// A Markdown table cell: `|` and line breaks would end it.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn code(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("`{}`", cell(text))
    }
}

/// Appends a table: a heading, the header row and one row per change.
fn table(out: &mut String, heading: &str, header: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### {heading}\n");
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
}

fn word(change: Change) -> String {
    change.word().to_string()
}

/// The Markdown report: a heading naming both releases, a table per kind that has changes,
/// and the bytes the new release adds.
pub fn markdown(diff: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## {} {} → {} {}\n",
        cell(&diff.old.name),
        cell(&diff.old.version),
        cell(&diff.new.name),
        cell(&diff.new.version)
    );
    let _ = writeln!(out, "| | release | source | index |\n|---|---|---|---|");
    for (label, side) in [("old", &diff.old), ("new", &diff.new)] {
        let _ = writeln!(
            out,
            "| {label} | {} {} | {} | {} |",
            cell(&side.name),
            cell(&side.version),
            code(&side.source),
            code(&side.index_digest.as_ref().map(short).unwrap_or_default())
        );
    }
    let images = diff
        .images
        .iter()
        .map(|i| {
            let notes = [
                i.old_reference.as_ref().map(|old| format!("was {old}")),
                image_notes(&i.platforms_added, &i.platforms_dropped, "platforms"),
                image_notes(&i.signers_added, &i.signers_removed, "signers"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
            vec![
                word(i.change),
                code(&i.reference),
                code(&short_opt(&i.old_digest)),
                code(&short_opt(&i.new_digest)),
                cell(&notes),
            ]
        })
        .collect();
    table(
        &mut out,
        "Images",
        &["change", "reference", "old", "new", "notes"],
        images,
    );
    let charts = diff
        .charts
        .iter()
        .map(|c| {
            vec![
                word(c.change),
                code(&c.name),
                cell(opt(&c.old_version)),
                cell(opt(&c.new_version)),
                code(&c.source),
            ]
        })
        .collect();
    table(
        &mut out,
        "Helm charts",
        &["change", "chart", "old", "new", "source"],
        charts,
    );
    let files = diff
        .files
        .iter()
        .map(|f| {
            vec![
                word(f.change),
                code(&f.path),
                code(&short_opt(&f.old_sha256)),
                code(&short_opt(&f.new_sha256)),
            ]
        })
        .collect();
    table(
        &mut out,
        "Files",
        &["change", "path", "old sha256", "new sha256"],
        files,
    );
    let debs = diff
        .debs
        .iter()
        .map(|d| {
            vec![
                word(d.change),
                code(&format!("{}:{}", d.name, d.arch)),
                cell(opt(&d.old_version)),
                cell(opt(&d.new_version)),
            ]
        })
        .collect();
    table(
        &mut out,
        "Debian packages",
        &["change", "package", "old", "new"],
        debs,
    );
    if diff.is_empty() {
        let _ = writeln!(out, "\nNo changes to images, charts, files or packages.");
    }
    let _ = writeln!(out, "\nThe new release adds {}.", bytes_line(diff));
    out
}
