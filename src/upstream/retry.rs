//! The one retry policy for upstream requests: a bounded number of attempts with a growing
//! pause, taken only for failures a second try can fix (a dropped connection, a timeout, a
//! 5xx, 429). Wrong content and refusals (404, 401, a digest that does not match) fail at
//! once. Layers, configs, manifests and files all follow it; each retry is a note to the
//! [`Reporter`].
//!
//! Not for resuming: what a retry starts from (a partial blob, byte 0) is the caller's.

use crate::progress::Reporter;
use std::future::Future;
use std::time::Duration;

/// Attempts per request or download, the first one included.
pub const ATTEMPTS: u32 = 4;

/// The pause before attempt `attempt` (2, 3, …): 0.25 s, 1 s, 2.25 s.
pub fn pause(attempt: u32) -> Duration {
    Duration::from_millis(250 * u64::from(attempt.saturating_sub(1)).pow(2))
}

/// Why one attempt failed.
#[derive(Debug)]
pub enum Failure<E> {
    /// Another attempt may succeed (network, timeout, 5xx, 429).
    Transient(E),
    /// Another attempt would fail the same way (wrong content, 404, 401).
    Final(E),
}

impl<E> Failure<E> {
    /// `Transient` when `transient`, else `Final`.
    pub fn new(error: E, transient: bool) -> Self {
        if transient {
            Failure::Transient(error)
        } else {
            Failure::Final(error)
        }
    }
}

/// What a retry note says about a failure: without the reference or URL the note already
/// names (`retrying WHAT (attempt 2): REASON`).
pub trait Reason {
    fn reason(&self) -> String;
}

impl Reason for String {
    fn reason(&self) -> String {
        self.clone()
    }
}

impl Reason for &str {
    fn reason(&self) -> String {
        self.to_string()
    }
}

/// The last failure and how many attempts were made.
#[derive(Debug)]
pub struct GaveUp<E> {
    pub error: E,
    pub attempts: u32,
}

impl<E: std::fmt::Display> GaveUp<E> {
    /// The error, and how many attempts it took when there were several:
    /// `… (after 4 attempts)`.
    pub fn describe(&self) -> String {
        if self.attempts > 1 {
            format!("{} (after {} attempts)", self.error, self.attempts)
        } else {
            self.error.to_string()
        }
    }
}

impl<E: Reason> GaveUp<E> {
    /// Like [`GaveUp::describe`], without the reference or URL (for a caller that names it).
    pub fn reason(&self) -> String {
        let reason = self.error.reason();
        if self.attempts > 1 {
            format!("{reason} (after {} attempts)", self.attempts)
        } else {
            reason
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or [`ATTEMPTS`] attempts were made;
/// notes each retry as `retrying WHAT (attempt N): REASON`.
pub async fn retried<T, E, F, Fut>(
    what: &str,
    reporter: &dyn Reporter,
    mut attempt: F,
) -> Result<T, GaveUp<E>>
where
    E: Reason,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure<E>>>,
{
    let mut attempts = 1;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(Failure::Final(error)) => return Err(GaveUp { error, attempts }),
            Err(Failure::Transient(error)) if attempts >= ATTEMPTS => {
                return Err(GaveUp { error, attempts })
            }
            Err(Failure::Transient(error)) => {
                attempts += 1;
                let reason = error.reason();
                reporter.note(&format!("retrying {what} (attempt {attempts}): {reason}"));
                tokio::time::sleep(pause(attempts)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;
    use std::sync::Mutex;

    struct Notes(Mutex<Vec<String>>);

    impl Reporter for Notes {
        fn note(&self, message: &str) {
            self.0.lock().unwrap().push(message.to_string());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_and_noted() {
        let notes = Notes(Mutex::new(Vec::new()));
        let mut calls = 0;
        let result: Result<u32, GaveUp<String>> = retried("thing", &notes, || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(Failure::Transient(format!("dropped {n}")))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result.unwrap(), 3);
        assert_eq!(
            *notes.0.lock().unwrap(),
            [
                "retrying thing (attempt 2): dropped 1",
                "retrying thing (attempt 3): dropped 2"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_bounded_and_counted() {
        let gave_up = retried("thing", &NoProgress, || async {
            Err::<(), _>(Failure::Transient("dropped"))
        })
        .await
        .unwrap_err();
        assert_eq!(gave_up.attempts, ATTEMPTS);
        assert_eq!(gave_up.describe(), "dropped (after 4 attempts)");
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_failure_is_not_retried() {
        let mut calls = 0;
        let gave_up = retried("thing", &NoProgress, || {
            calls += 1;
            async { Err::<(), _>(Failure::Final("wrong digest")) }
        })
        .await
        .unwrap_err();
        assert_eq!((calls, gave_up.attempts), (1, 1));
        assert_eq!(gave_up.describe(), "wrong digest");
    }
}
