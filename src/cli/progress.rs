//! indicatif progress bars: the command line's implementation of the library's `Reporter`.
//! Bars draw only on a terminal; elsewhere (a log, a pipe) a plain line
//! (`outpost::progress::plain_line`: bytes, share, rate, ETA) goes to stderr every
//! [`PLAIN_EVERY`] (`OUTPOST_PROGRESS_EVERY` seconds), so a long load is never silent. Counted phases (`lock`: images) show
//! counts the same way (`outpost::progress::plain_items_line`). Notes always reach stderr.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use outpost::progress::Reporter;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a plain progress line is written when stderr is not a terminal, unless
/// `OUTPOST_PROGRESS_EVERY` (whole seconds, at least 1) says otherwise.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// The plain-line interval an `OUTPOST_PROGRESS_EVERY` value asks for, or why it is ignored.
fn plain_every(value: Option<&str>) -> Result<Duration, String> {
    match value {
        None => Ok(PLAIN_EVERY),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(seconds) if seconds >= 1 => Ok(Duration::from_secs(seconds)),
            _ => Err(format!(
                "OUTPOST_PROGRESS_EVERY={text} is not a whole number of seconds (1 or more); progress lines come every {}s",
                PLAIN_EVERY.as_secs()
            )),
        },
    }
}

pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
    visible: bool,
    /// Plain lines (not quiet, not a terminal): the phase being shown.
    plain: Option<Mutex<Option<Plain>>>,
    /// How often a plain line is written.
    every: Duration,
}

/// What a plain line needs of the current phase.
struct Plain {
    phase: String,
    /// What a counted phase counts (`images`); `None` for bytes.
    unit: Option<String>,
    started: Instant,
    last: Instant,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let plain = !quiet && !terminal;
        let every = plain_every(std::env::var("OUTPOST_PROGRESS_EVERY").ok().as_deref())
            .unwrap_or_else(|message| {
                if plain {
                    eprintln!("note: {message}");
                }
                PLAIN_EVERY
            });
        Bars {
            bar: Mutex::new(None),
            visible: !quiet && terminal,
            plain: plain.then(|| Mutex::new(None)),
            every,
        }
    }

    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(guard) = self.bar.lock() {
            if let Some(bar) = guard.as_ref() {
                f(bar);
            }
        }
    }
}

impl Bars {
    /// Starts a phase of `total` bytes (`unit` `None`) or things.
    fn begin(&self, phase: &str, total: u64, unit: Option<&str>) {
        let target = if self.visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let template = match unit {
            None => {
                "{prefix:>8.bold} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}"
                    .to_string()
            }
            Some(unit) => format!(
                "{{prefix:>8.bold}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{per_sec}} eta {{eta}}"
            ),
        };
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(phase.to_string());
        if let Some(Ok(mut plain)) = self.plain.as_ref().map(|p| p.lock()) {
            let now = Instant::now();
            *plain = Some(Plain {
                phase: phase.to_string(),
                unit: unit.map(str::to_string),
                started: now,
                last: now,
            });
        }
        if let Ok(mut guard) = self.bar.lock() {
            *guard = Some(bar);
        }
    }
}

impl Reporter for Bars {
    fn start(&self, phase: &str, total_bytes: u64) {
        self.begin(phase, total_bytes, None);
    }

    fn start_items(&self, phase: &str, unit: &str, total: u64) {
        self.begin(phase, total, Some(unit));
    }

    fn advance(&self, bytes: u64) {
        self.with_bar(|bar| bar.inc(bytes));
        let Some(Ok(mut plain)) = self.plain.as_ref().map(|p| p.lock()) else {
            return;
        };
        if let Some(plain) = plain.as_mut() {
            if plain.last.elapsed() >= self.every {
                plain.last = Instant::now();
                self.with_bar(|bar| {
                    let (done, total) = (bar.position(), bar.length().unwrap_or(0));
                    let elapsed = plain.started.elapsed();
                    let line = match &plain.unit {
                        None => outpost::progress::plain_line(&plain.phase, done, total, elapsed),
                        Some(unit) => outpost::progress::plain_items_line(
                            &plain.phase,
                            unit,
                            done,
                            total,
                            elapsed,
                        ),
                    };
                    eprintln!("{line}");
                });
            }
        }
    }

    fn rewind(&self, bytes: u64) {
        self.with_bar(|bar| bar.set_position(bar.position().saturating_sub(bytes)));
    }

    fn note(&self, message: &str) {
        let mut shown = false;
        if self.visible {
            self.with_bar(|bar| {
                bar.println(format!("note: {message}"));
                shown = true;
            });
        }
        if !shown {
            eprintln!("note: {message}");
        }
    }

    fn finish(&self) {
        if let Ok(mut guard) = self.bar.lock() {
            if let Some(bar) = guard.take() {
                bar.finish_and_clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_line_interval_is_whole_seconds_or_the_default() {
        assert_eq!(plain_every(None), Ok(PLAIN_EVERY));
        assert_eq!(plain_every(Some("60")), Ok(Duration::from_secs(60)));
        assert_eq!(plain_every(Some(" 1 ")), Ok(Duration::from_secs(1)));
        for bad in ["0", "-5", "1.5", "10s", ""] {
            let err = plain_every(Some(bad)).unwrap_err();
            assert!(
                err.starts_with(&format!("OUTPOST_PROGRESS_EVERY={bad} ")),
                "{err}"
            );
        }
    }
}
