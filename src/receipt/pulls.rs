//! Pull counts from audit logs: the `pull: true` lines (successful manifest GETs) by the
//! digest they resolved to, optionally only from a given time on. Pure over line text; the
//! reading with bounded line lengths is [`count_file`].

use crate::server::audit::AuditLine;
use chrono::{DateTime, FixedOffset};
use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::path::Path;

/// Longest audit line read; a longer one is skipped (no line `serve` writes comes close).
pub const MAX_LINE_BYTES: u64 = 64 * 1024;

/// What the audit logs said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullCounts {
    /// Pulls by resolved manifest digest (`sha256:<hex>`).
    pub by_digest: BTreeMap<String, u64>,
    /// Every pull counted.
    pub total: u64,
    /// Lines that were not audit lines (cut by a crash, too long): skipped.
    pub skipped_lines: u64,
}

impl PullCounts {
    /// Counts one line of text (without its newline) if it is a pull at or after `since`.
    pub fn add_line(&mut self, text: &str, since: Option<&DateTime<FixedOffset>>) {
        if text.trim().is_empty() {
            return;
        }
        let Some(line) = AuditLine::parse(text) else {
            self.skipped_lines += 1;
            return;
        };
        if !line.pull {
            return;
        }
        if let Some(since) = since {
            match DateTime::parse_from_rfc3339(&line.time) {
                Ok(time) if time >= *since => {}
                Ok(_) => return,
                Err(_) => {
                    self.skipped_lines += 1;
                    return;
                }
            }
        }
        let Some(digest) = line.digest else {
            return;
        };
        *self.by_digest.entry(digest).or_default() += 1;
        self.total += 1;
    }

    /// Pulls of `digest`.
    pub fn of(&self, digest: &str) -> u64 {
        self.by_digest.get(digest).copied().unwrap_or(0)
    }
}

/// Adds the pulls of the audit log at `path` (lines over [`MAX_LINE_BYTES`] are skipped).
pub fn count_file(
    path: &Path,
    since: Option<&DateTime<FixedOffset>>,
    counts: &mut PullCounts,
) -> std::io::Result<()> {
    let mut reader = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let read = reader
            .by_ref()
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut buffer)?;
        if read == 0 {
            return Ok(());
        }
        if buffer.last() != Some(&b'\n') && read as u64 == MAX_LINE_BYTES {
            counts.skipped_lines += 1;
            // The rest of the long line.
            loop {
                buffer.clear();
                let more = reader
                    .by_ref()
                    .take(MAX_LINE_BYTES)
                    .read_until(b'\n', &mut buffer)?;
                if more == 0 || buffer.last() == Some(&b'\n') {
                    break;
                }
            }
            continue;
        }
        counts.add_line(&String::from_utf8_lossy(&buffer), since);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(time: &str, method: &str, digest: &str, pull: bool) -> String {
        let pull = if pull { ",\"pull\":true" } else { "" };
        format!("{{\"time\":\"{time}\",\"identity\":\"anonymous\",\"client\":null,\"method\":\"{method}\",\"route\":\"manifest\",\"digest\":\"{digest}\",\"status\":200,\"bytes\":1,\"ms\":0{pull}}}")
    }

    #[test]
    fn only_pull_lines_count_and_since_filters_by_time() {
        let mut counts = PullCounts::default();
        let lines = [
            line("2026-11-01T10:00:00.000Z", "GET", "sha256:a", true),
            line("2026-11-02T10:00:00.000Z", "GET", "sha256:a", true),
            line("2026-11-02T10:00:00.000Z", "HEAD", "sha256:a", false),
            line("2026-11-03T10:00:00.000Z", "GET", "sha256:b", true),
            "{\"time\":\"2026-11-03T1".to_string(),
            String::new(),
        ];
        for text in &lines {
            counts.add_line(text, None);
        }
        assert_eq!((counts.of("sha256:a"), counts.of("sha256:b")), (2, 1));
        assert_eq!((counts.total, counts.skipped_lines), (3, 1));

        let since = DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z").unwrap();
        let mut recent = PullCounts::default();
        for text in &lines {
            recent.add_line(text, Some(&since));
        }
        assert_eq!((recent.of("sha256:a"), recent.total), (1, 2));
    }

    #[test]
    fn a_file_with_an_overlong_line_is_still_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let good = line("2026-11-01T10:00:00.000Z", "GET", "sha256:a", true);
        let long = "x".repeat(MAX_LINE_BYTES as usize * 2 + 5);
        std::fs::write(&path, format!("{good}\n{long}\n{good}\n{good}")).unwrap();
        let mut counts = PullCounts::default();
        count_file(&path, None, &mut counts).unwrap();
        assert_eq!((counts.of("sha256:a"), counts.skipped_lines), (3, 1));
    }
}
