//! `outpost auth hash`: an argon2id PHC string for a password (one line on standard input,
//! or asked for twice on the terminal), for a user's `password:` in the auth file.

use super::CommandError;
use crate::cli::exit::CliError;
use crate::cli::settings::SettingsError;
use std::io::{BufRead as _, IsTerminal as _};

/// Longest password read from standard input, bytes.
const MAX_PASSWORD_BYTES: u64 = 4096;

pub fn auth_hash() -> Result<(), CliError> {
    let password = if std::io::stdin().is_terminal() {
        let prompt =
            |text: &str| rpassword::prompt_password(text).map_err(SettingsError::PasswordRead);
        let first = prompt("Password: ")?;
        if first != prompt("Repeat the password: ")? {
            return Err(SettingsError::PasswordsDiffer.into());
        }
        first
    } else {
        use std::io::Read as _;
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_PASSWORD_BYTES)
            .read_line(&mut line)
            .map_err(SettingsError::PasswordRead)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    if password.is_empty() {
        return Err(CommandError::EmptyPassword.into());
    }
    let hash = outpost::server::auth::password::hash(&password)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    println!("{hash}");
    Ok(())
}
