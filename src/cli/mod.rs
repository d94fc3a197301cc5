//! The command line: clap structs (data only) in `args`, arguments resolved into settings
//! before any I/O in `settings`, one module per command in `commands`, the exit-code table in
//! `exit`, indicatif progress in `progress`.

pub mod args;
pub mod commands;
pub mod exit;
pub mod progress;
pub mod settings;
