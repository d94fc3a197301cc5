//! `outpost key generate`: a cosign-compatible key pair (and the OpenPGP apt key) in `--out`;
//! with `--site`, the site's pair that signs `store report` receipts.

use crate::cli::exit::CliError;
use crate::cli::settings::KeyGenerateSettings;
use outpost::sign;

pub fn key_generate(settings: &KeyGenerateSettings) -> Result<(), CliError> {
    let password = settings.password.read()?;
    let (files, private_note, public_note) = if settings.site {
        (
            sign::generate_site(&settings.out, &password)?,
            "keep it at the site",
            "copy it to HQ, which checks the site's receipts with it",
        )
    } else {
        (
            sign::generate(&settings.out, &password)?,
            "keep it at HQ",
            "copy it to every site",
        )
    };
    println!(
        "private key: {} (encrypted; {private_note})",
        files.private_key.display()
    );
    println!(
        "public key:  {} ({public_note})",
        files.public_key.display()
    );
    println!("fingerprint: {}", files.fingerprint);
    Ok(())
}
