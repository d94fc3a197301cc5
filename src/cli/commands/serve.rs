//! `outpost serve`: check and open the bundles and the site store's releases, then serve them
//! read-only as a registry, a file mirror and apt repositories. SIGHUP reopens them.

use super::{runtime, CommandError};
use crate::cli::exit::CliError;
use crate::cli::settings::{ServeCommandSettings, TlsSettings};
use outpost::errors::plural;
use outpost::server::{self, catalog::Catalog, tls};
use outpost::sign::Verifier;
use outpost::sitestore::SiteStore;
use std::sync::Arc;

pub fn serve(settings: &ServeCommandSettings) -> Result<(), CliError> {
    let verifier = match &settings.key {
        None => {
            tracing::warn!(
                "--insecure-skip-verify: serving bundles WITHOUT checking their signatures"
            );
            eprintln!("WARNING: --insecure-skip-verify: bundle signatures are NOT checked; anything in them will be served");
            None
        }
        Some(key) => Some(Verifier::load(key)?),
    };
    let mut _serving = None;
    if let Some(dir) = &settings.store {
        let site = SiteStore::open(dir)?;
        _serving = Some(site.serving()?);
        if site.releases()?.is_empty() && settings.bundles.is_empty() {
            return Err(CommandError::EmptyStore(dir.clone()).into());
        }
    }
    let verifier = Arc::new(verifier);
    let catalog = Catalog::open(
        settings.store.as_deref(),
        &settings.bundles,
        verifier.as_ref().as_ref(),
    )?;
    // SIGHUP re-reads the store (releases loaded since start) and re-opens the bundles.
    let reload: server::Reload = {
        let (store, bundles) = (settings.store.clone(), settings.bundles.clone());
        Box::new(move || {
            Catalog::open(store.as_deref(), &bundles, verifier.as_ref().as_ref())
                .map_err(|e| outpost::errors::chain(&e))
        })
    };
    let images: usize = catalog
        .bundles()
        .iter()
        .map(|b| b.images.iter().filter(|i| i.subject.is_none()).count())
        .sum();
    let repositories = catalog.repository_names().count();
    let (tls_files, scheme) = match &settings.tls {
        TlsSettings::Auto {
            state_dir,
            hostnames,
        } => {
            let made = tls::auto(state_dir, hostnames)?;
            println!(
                "site CA: {} ({}; install it on every node)",
                made.ca.display(),
                if made.ca_created {
                    "created now"
                } else {
                    "reused"
                }
            );
            (Some(made.files), "https")
        }
        TlsSettings::Files(files) => (Some(files.clone()), "https"),
        TlsSettings::Off => (None, "http"),
    };
    let serve_settings = server::ServeSettings {
        listen: settings.listen,
        tls: tls_files,
        max_concurrent_requests: settings.max_concurrent_requests,
        shutdown_grace: std::time::Duration::from_secs(30),
        ui: settings.ui,
        store: settings.store.clone(),
        audit: settings.audit.clone(),
        auth: settings
            .auth
            .as_ref()
            .map(|(file, token_ttl)| server::auth::AuthSettings {
                file: file.clone(),
                state_dir: settings.state_dir.clone(),
                token_ttl: *token_ttl,
                scheme,
            }),
        client_auth: settings.client_auth.clone(),
    };
    if let Some(audit) = &settings.audit {
        println!(
            "audit log: {} (rotated at {} bytes, {} kept)",
            audit.path.display(),
            audit.max_size,
            plural(audit.keep as u64, "old file")
        );
    }
    if let Some((file, _)) = &settings.auth {
        println!(
            "authentication on: rules from {}, tokens at {scheme}://<host>/token",
            file.display()
        );
    }
    let bundle_count = catalog.bundles().len();
    runtime()?.block_on(server::serve(
        catalog,
        serve_settings,
        Some(reload),
        |addr| {
            println!(
                "serving {} in {} from {} on {scheme}://{addr}",
                plural(images as u64, "image"),
                plural(repositories as u64, "repository"),
                plural(bundle_count as u64, "release")
            );
        },
    ))?;
    Ok(())
}
