//! The command line: clap structs (data only) in `args`, one function per command in
//! `commands`, indicatif progress in `progress`. Errors carry the exit code they map to.

pub mod args;
pub mod commands;
pub mod progress;

/// Exit codes (documented in the README and `--help`).
pub mod exit {
    /// Something failed that is not one of the cases below (I/O, disk full, …).
    pub const FAILURE: i32 = 1;
    /// The input is wrong: command line, manifest, lockfile (stale or malformed), key password.
    pub const INPUT: i32 = 2;
    /// A bundle failed verification: tampered, truncated, wrong key, missing blobs.
    pub const VERIFY: i32 = 3;
    /// An upstream registry failed or sent bad content.
    pub const UPSTREAM: i32 = 4;
}

/// An error with the exit code it deserves.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub error: anyhow::Error,
}

impl CliError {
    pub fn new(code: i32, error: impl Into<anyhow::Error>) -> Self {
        CliError {
            code,
            error: error.into(),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for CliError {
    fn from(error: E) -> Self {
        CliError::new(exit::FAILURE, error)
    }
}
