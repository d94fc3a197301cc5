//! `outpost key generate`: a cosign-compatible key pair (and the OpenPGP apt key) in `--out`.

use crate::cli::exit::CliError;
use crate::cli::settings::KeyGenerateSettings;
use outpost::sign;

pub fn key_generate(settings: &KeyGenerateSettings) -> Result<(), CliError> {
    let password = settings.password.read()?;
    let files = sign::generate(&settings.out, &password)?;
    println!(
        "private key: {} (encrypted; keep it at HQ)",
        files.private_key.display()
    );
    println!(
        "public key:  {} (copy it to every site)",
        files.public_key.display()
    );
    println!("fingerprint: {}", files.fingerprint);
    Ok(())
}
