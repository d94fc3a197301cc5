//! The `Reporter` trait: how long-running library work reports progress.
//!
//! The library calls it; only the command line implements it (with indicatif bars). Every
//! method has a no-op default so tests and scripts can pass [`NoProgress`].

/// Receives progress of one phase at a time (fetch, pack, verify).
pub trait Reporter: Send + Sync {
    /// A phase starts; `total_bytes` is what it will move or read (0 when unknown).
    fn start(&self, _phase: &str, _total_bytes: u64) {}
    /// A phase that counts things instead of bytes starts (`lock`: 5,002 `images`): each
    /// [`Reporter::advance`] of it is that many more done.
    fn start_items(&self, _phase: &str, _unit: &str, _total: u64) {}
    /// `bytes` (or items, in a phase begun with [`Reporter::start_items`]) more were moved or
    /// read.
    fn advance(&self, _bytes: u64) {}
    /// `bytes` counted earlier must be counted again (a download restarts or resumes).
    fn rewind(&self, _bytes: u64) {}
    /// A human note worth a line (a retry, a resumed download).
    fn note(&self, _message: &str) {}
    /// The current phase is over.
    fn finish(&self) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Reporter for NoProgress {}

/// Passes on notes only: for the work inside a counted phase, whose own downloads must not
/// add their bytes to the count.
pub struct NotesOnly<'a>(pub &'a dyn Reporter);

impl Reporter for NotesOnly<'_> {
    fn note(&self, message: &str) {
        self.0.note(message);
    }
}

/// One plain progress line of a counted phase: `lock: 1234 of 5002 images (24%), 82.3/s,
/// eta 46s` (`total` 0 = unknown: no share and no ETA).
pub fn plain_items_line(
    phase: &str,
    unit: &str,
    done: u64,
    total: u64,
    elapsed: std::time::Duration,
) -> String {
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        done as f64 / seconds
    } else {
        0.0
    };
    let mut line = format!("{phase}: {done}");
    match done.saturating_mul(100).checked_div(total) {
        Some(share) => line += &format!(" of {total} {unit} ({share}%)"),
        None => line += &format!(" {unit}"),
    }
    line += &format!(", {rate:.1}/s");
    if total > done && rate > 0.0 {
        line += &format!(", eta {}", duration(((total - done) as f64 / rate) as u64));
    }
    line
}

/// One plain progress line for logs (no terminal): `verify: 1.5 GiB of 30.0 GiB (5%),
/// 210.0 MiB/s, eta 2m19s`. `done` and `total` are bytes (`total` 0 = unknown: no share and
/// no ETA), `elapsed` the time since the phase started.
pub fn plain_line(phase: &str, done: u64, total: u64, elapsed: std::time::Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        done as f64 / seconds
    } else {
        0.0
    };
    let mut line = format!("{phase}: {}", bytes(done));
    if total > 0 {
        line += &format!(
            " of {} ({}%)",
            bytes(total),
            done.saturating_mul(100) / total.max(1)
        );
    }
    line += &format!(", {}/s", bytes(rate as u64));
    if total > done && rate > 0.0 {
        let left = ((total - done) as f64 / rate) as u64;
        line += &format!(", eta {}", duration(left));
    }
    line
}

/// Bytes in binary units with one decimal (`1.5 GiB`).
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Seconds as `1h02m`, `2m19s` or `42s`.
fn duration(seconds: u64) -> String {
    match seconds {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_line_gives_bytes_share_rate_and_eta() {
        let line = plain_line("verify", 3 << 30, 30 << 30, Duration::from_secs(10));
        assert_eq!(
            line,
            "verify: 3.0 GiB of 30.0 GiB (10%), 307.2 MiB/s, eta 1m30s"
        );
    }

    #[test]
    fn an_unknown_total_has_no_share_and_no_eta() {
        let line = plain_line("lock", 512, 0, Duration::from_secs(2));
        assert_eq!(line, "lock: 512 B, 256 B/s");
    }

    #[test]
    fn a_counted_phase_gives_items_share_rate_and_eta() {
        let line = plain_items_line("lock", "images", 1234, 5002, Duration::from_secs(15));
        assert_eq!(line, "lock: 1234 of 5002 images (24%), 82.3/s, eta 45s");
        let line = plain_items_line("lock", "images", 7, 0, Duration::from_secs(2));
        assert_eq!(line, "lock: 7 images, 3.5/s");
    }

    #[test]
    fn long_waits_read_in_hours() {
        let line = plain_line("load", 1 << 30, 300 << 30, Duration::from_secs(60));
        assert!(line.ends_with("eta 4h59m"), "{line}");
    }
}
