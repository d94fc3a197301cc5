//! indicatif progress bars: the command line's implementation of the library's `Reporter`.
//! Bars draw only on a terminal; elsewhere (a log, a pipe) a plain line
//! (`outpost::progress::plain_line`: bytes, share, rate, ETA) goes to stderr every
//! [`PLAIN_EVERY`], so a long load is never silent. Notes always reach stderr.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use outpost::progress::Reporter;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a plain progress line is written when stderr is not a terminal.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
    visible: bool,
    /// Plain lines (not quiet, not a terminal): phase, started, last line written.
    plain: Option<Mutex<Option<(String, Instant, Instant)>>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        Bars {
            bar: Mutex::new(None),
            visible: !quiet && terminal,
            plain: (!quiet && !terminal).then(|| Mutex::new(None)),
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

impl Reporter for Bars {
    fn start(&self, phase: &str, total_bytes: u64) {
        let target = if self.visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total_bytes), target);
        let style = ProgressStyle::with_template(
            "{prefix:>8.bold} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(phase.to_string());
        if let Some(Ok(mut plain)) = self.plain.as_ref().map(|p| p.lock()) {
            let now = Instant::now();
            *plain = Some((phase.to_string(), now, now));
        }
        if let Ok(mut guard) = self.bar.lock() {
            *guard = Some(bar);
        }
    }

    fn advance(&self, bytes: u64) {
        self.with_bar(|bar| bar.inc(bytes));
        let Some(Ok(mut plain)) = self.plain.as_ref().map(|p| p.lock()) else {
            return;
        };
        if let Some((phase, started, last)) = plain.as_mut() {
            if last.elapsed() >= PLAIN_EVERY {
                *last = Instant::now();
                self.with_bar(|bar| {
                    let total = bar.length().unwrap_or(0);
                    let line = outpost::progress::plain_line(
                        phase,
                        bar.position(),
                        total,
                        started.elapsed(),
                    );
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
