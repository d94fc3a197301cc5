//! One function per command: resolve arguments into settings, call the library, print.

use super::args::{
    AptArgs, BuildArgs, CacheArgs, ContainerdArgs, InspectArgs, JoinArgs, KubeadmArgs,
    KubesprayArgs, LoadArgs, LockArgs, PushArgs, ServeArgs, StoreArgs, TlsMode, VerifyArgs,
};
use super::progress::Bars;
use super::{exit, CliError};
use anyhow::Context;
use outpost::bundle::delta::Base;
use outpost::bundle::{inspect, pack, verify};
use outpost::fetch;
use outpost::lock::{lock_path_for, LockError, Lockfile};
use outpost::manifest::Release;
use outpost::progress::Reporter;
use outpost::resolve::{self, ResolveError};
use outpost::sign::{self, SignError, Signer, Verifier};
use outpost::sitestore::SiteStore;
use outpost::store::Store;
use outpost::upstream::registry::Registry;
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

const PASSWORD_ENV: &str = "OUTPOST_KEY_PASSWORD";

fn input(error: impl Into<anyhow::Error>) -> CliError {
    CliError::new(exit::INPUT, error)
}

/// The cache directory: --cache / OUTPOST_CACHE, else $XDG_CACHE_HOME/outpost or ~/.cache/outpost.
fn cache_dir(args: &CacheArgs) -> Result<PathBuf, CliError> {
    if let Some(dir) = &args.cache {
        return Ok(dir.clone());
    }
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("outpost"));
    }
    match std::env::var_os("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".cache").join("outpost")),
        None => Err(input(anyhow::anyhow!(
            "no cache directory: set --cache or OUTPOST_CACHE"
        ))),
    }
}

fn open_store(args: &CacheArgs) -> Result<Store, CliError> {
    let dir = cache_dir(args)?;
    Store::open(&dir).map_err(CliError::from)
}

/// The key password: OUTPOST_KEY_PASSWORD, or a prompt on the terminal.
fn password(confirm: bool) -> Result<Vec<u8>, CliError> {
    if let Some(value) = std::env::var_os(PASSWORD_ENV) {
        return Ok(value.into_encoded_bytes());
    }
    if !std::io::stdin().is_terminal() {
        return Err(input(anyhow::anyhow!(
            "no key password: set {PASSWORD_ENV} (no terminal to ask on)"
        )));
    }
    let first = rpassword::prompt_password("Key password: ").context("reading the password")?;
    if confirm {
        let second =
            rpassword::prompt_password("Repeat the password: ").context("reading the password")?;
        if first != second {
            return Err(input(anyhow::anyhow!("the passwords differ")));
        }
    }
    Ok(first.into_bytes())
}

fn sign_error(error: SignError) -> CliError {
    match error {
        SignError::Io { .. } | SignError::Generate(_) | SignError::Sign(_) => CliError::from(error),
        _ => input(error),
    }
}

/// An upstream that fails or lies is `UPSTREAM`; what the manifest asks for that cannot be
/// had (a platform an image lacks, a Debian package no source has or whose dependencies
/// cannot be met, a source or keyring that is not there) is `INPUT`.
fn resolve_error(error: ResolveError) -> CliError {
    match error {
        ResolveError::Registry(_)
        | ResolveError::Config { .. }
        | ResolveError::File { .. }
        | ResolveError::AptSignature { .. }
        | ResolveError::AptIndex { .. }
        | ResolveError::AptHttp { .. } => CliError::new(exit::UPSTREAM, error),
        ResolveError::PlatformMissing { .. }
        | ResolveError::Reference(_)
        | ResolveError::Kubernetes(_)
        | ResolveError::AptSources { .. }
        | ResolveError::AptNoHostSource { .. }
        | ResolveError::AptNoSource
        | ResolveError::AptKeyring { .. }
        | ResolveError::AptRequest { .. }
        | ResolveError::AptClosure { .. }
        | ResolveError::AptVersionClash(_) => input(error),
        ResolveError::Store { .. } | ResolveError::AptCache { .. } => CliError::from(error),
    }
}

/// The host's apt configuration directory: OUTPOST_APT_ETC, else /etc/apt.
fn resolve_settings() -> resolve::ResolveSettings {
    resolve::ResolveSettings {
        etc_apt: std::env::var_os("OUTPOST_APT_ETC")
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from("/etc/apt"), PathBuf::from),
    }
}

fn lock_error(error: LockError) -> CliError {
    match error {
        LockError::Write { .. } => CliError::from(error),
        _ => input(error),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::from)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

pub fn key_generate(out: &Path) -> Result<(), CliError> {
    let password = password(true)?;
    let files = sign::generate(out, &password).map_err(sign_error)?;
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

/// Resolves the manifest and writes its lockfile; shared by `lock` and `bundle build`.
async fn lock_manifest(
    release: &Release,
    manifest: &Path,
    store: &Store,
) -> Result<(Lockfile, PathBuf), CliError> {
    let registry = Registry::new(release.upstreams());
    let lockfile = resolve::lock(release, &registry, store, &resolve_settings())
        .await
        .map_err(resolve_error)?;
    let path = lock_path_for(manifest);
    lockfile.save(&path).map_err(lock_error)?;
    Ok((lockfile, path))
}

pub fn lock(args: &LockArgs) -> Result<(), CliError> {
    let release = Release::load(&args.manifest).map_err(input)?;
    if args.dry_run {
        let urls = outpost::resolve::files::dry_run_urls(&release);
        let mut images: Vec<String> = release.spec.images.clone();
        if let Some(k) = release.spec.kubernetes.as_ref().filter(|k| k.images) {
            if outpost::kubernetes::is_marker(&k.version) {
                images.push(format!(
                    "(kubeadm control-plane images for the version {} names)",
                    k.version
                ));
            } else {
                images
                    .extend(outpost::kubernetes::control_plane_images(&k.version).map_err(input)?);
            }
        }
        if args.json {
            print_json(
                &json!({"manifest": args.manifest, "valid": true, "files": urls, "images": images}),
            );
        } else {
            println!("{} is valid; it would fetch:", args.manifest.display());
            for url in &urls {
                println!("file  {url}");
            }
            for image in &images {
                println!("image {image}");
            }
        }
        return Ok(());
    }
    let store = open_store(&args.cache)?;
    let (lockfile, path) = runtime()?.block_on(lock_manifest(&release, &args.manifest, &store))?;
    if args.json {
        print_json(
            &json!({"lockfile": path, "images": lockfile.images.len(), "manifest_digest": lockfile.manifest_digest}),
        );
    } else {
        println!(
            "locked {} image(s) into {}",
            lockfile.images.len(),
            path.display()
        );
    }
    Ok(())
}

pub fn build(args: &BuildArgs) -> Result<(), CliError> {
    let release = Release::load(&args.manifest).map_err(input)?;
    let password = password(false)?;
    let signer = Signer::load(&args.key, &password).map_err(sign_error)?;
    let store = open_store(&args.cache)?;
    let bars = Bars::new(args.json);
    let rt = runtime()?;
    let (lockfile, lock_path) = if args.locked {
        let path = lock_path_for(&args.manifest);
        let lockfile = Lockfile::load(&path).map_err(lock_error)?;
        lockfile
            .check_fresh(&path, &release.canonical_digest())
            .map_err(lock_error)?;
        (lockfile, path)
    } else {
        rt.block_on(lock_manifest(&release, &args.manifest, &store))?
    };
    let registry = Registry::new(release.upstreams());
    let http = outpost::upstream::http::Http::new(release.upstreams())
        .map_err(|e| CliError::new(exit::UPSTREAM, e))?;
    let fetched = rt
        .block_on(fetch::fetch_all(&lockfile, &registry, &http, &store, &bars))
        .map_err(|e| CliError::new(exit::UPSTREAM, e))?;
    let out = args.out.join(format!("{}.tar", release.bundle_stem()));
    let apt_signer = if lockfile.debs.is_empty() {
        None
    } else {
        Some(outpost::sign::apt::AptSigner::load(&args.key, &password).map_err(sign_error)?)
    };
    let base = match &args.base {
        None => None,
        Some(path) if path.extension().is_some_and(|e| e == "lock") => Some(
            Base::from_lockfile(path, &store, signer.fingerprint(), apt_signer.as_ref())
                .map_err(input)?,
        ),
        Some(path) => Some(Base::from_bundle(path).map_err(input)?),
    };
    let options = pack::PackOptions {
        split_size: args.split_size,
        base,
    };
    let packed = pack::pack(
        &lockfile,
        &store,
        &signer,
        apt_signer.as_ref(),
        &out,
        &options,
        &bars,
    )?;
    if args.json {
        print_json(&json!({
            "bundle": packed.path,
            "bytes": packed.bytes,
            "index_digest": packed.index_digest,
            "lockfile": lock_path,
            "images": packed.images,
            "blobs": packed.blobs,
            "downloaded_blobs": fetched.downloaded_blobs,
            "downloaded_bytes": fetched.downloaded_bytes,
            "cached_bytes": fetched.cached_bytes,
            "signer": signer.fingerprint(),
            "unchanged": packed.unchanged,
            "parts": packed.parts.as_ref().map(|(count, list)| json!({"count": count, "list": list})),
            "delta": packed.omitted.map(|(blobs, bytes)| json!({"omitted_blobs": blobs, "omitted_bytes": bytes})),
        }));
    } else {
        println!("lockfile: {}", lock_path.display());
        println!(
            "fetched:  {} of {} blobs ({} downloaded, {} from the cache)",
            fetched.downloaded_blobs,
            fetched.blobs,
            mib(fetched.downloaded_bytes),
            mib(fetched.cached_bytes)
        );
        println!(
            "bundle:   {} ({}, {} images, {} blobs){}",
            packed.path.display(),
            mib(packed.bytes),
            packed.images,
            packed.blobs,
            if packed.unchanged {
                ", unchanged: the same signed head and size are already there; `bundle verify` checks the content"
            } else {
                ""
            }
        );
        if let Some((count, list)) = &packed.parts {
            println!(
                "parts:    {count} parts listed in {} (carry them all, with the list)",
                list.display()
            );
        }
        if let (Some((blobs, bytes)), Some(base)) = (packed.omitted, &options.base) {
            println!(
                "delta:    on {} ({}): {blobs} blobs, {} left out; load it into a store that holds the base",
                base.release.trim(),
                base.index_digest,
                mib(bytes)
            );
        }
        println!(
            "index:    {} signed by {}",
            packed.index_digest,
            signer.fingerprint()
        );
        let shown = packed
            .parts
            .as_ref()
            .map_or(packed.path.clone(), |(_, list)| list.clone());
        println!(
            "next:     carry it to the site and run `outpost bundle verify {} --key <outpost.pub>`",
            shown.display()
        );
    }
    Ok(())
}

pub fn verify(args: &VerifyArgs) -> Result<(), CliError> {
    let verifier = Verifier::load(&args.key).map_err(sign_error)?;
    let bars = Bars::new(args.json);
    let report = verify::verify(&args.bundle, &verifier, &bars).map_err(|e| match e {
        verify::VerifyError::Io { .. } => CliError::from(e),
        other => CliError::new(
            exit::VERIFY,
            anyhow::anyhow!("{}: {other}", args.bundle.display()),
        ),
    })?;
    bars.finish();
    if args.json {
        print_json(&json!({
            "bundle": args.bundle,
            "ok": true,
            "signer": report.signer,
            "index_digest": report.index_digest,
            "blobs": report.blobs,
            "bytes": report.bytes,
        }));
    } else {
        println!(
            "OK {}: signature by {} holds; {} blobs ({}) match their digests",
            args.bundle.display(),
            report.signer,
            report.blobs,
            mib(report.bytes)
        );
    }
    Ok(())
}

pub fn load(args: &LoadArgs) -> Result<(), CliError> {
    let verifier = Verifier::load(&args.key).map_err(sign_error)?;
    let site = SiteStore::open(&args.store)?;
    let _lock = site.lock()?;
    let target = site.target()?;
    let bars = Bars::new(args.json);
    let report = verify::verify_into(&args.bundle, &verifier, Some(&target), &bars).map_err(
        |e| match e {
            verify::VerifyError::Io { .. }
            | verify::VerifyError::DiskFull { .. }
            | verify::VerifyError::Store { .. } => CliError::new(
                exit::FAILURE,
                anyhow::anyhow!("{}: {e}", args.bundle.display()),
            ),
            verify::VerifyError::BaseNotLoaded { .. } => CliError::new(
                exit::INPUT,
                anyhow::anyhow!("{}: {e}", args.bundle.display()),
            ),
            other => CliError::new(
                exit::VERIFY,
                anyhow::anyhow!("{}: {other}", args.bundle.display()),
            ),
        },
    )?;
    bars.finish();
    let (release, new) = site.record(&report)?;
    if args.json {
        print_json(&json!({
            "bundle": args.bundle,
            "store": args.store,
            "release": release,
            "new": new,
            "stored_blobs": report.stored_blobs,
            "stored_bytes": report.stored_bytes,
            "blobs": report.blobs,
        }));
    } else {
        println!(
            "loaded {} {} ({}) into {}: {} new blobs ({}), {} blobs in the release{}",
            release.name,
            release.version,
            release.index_digest,
            args.store.display(),
            report.stored_blobs,
            mib(report.stored_bytes),
            report.blobs,
            if new { "" } else { "; it was already loaded" }
        );
        println!(
            "next: outpost serve --store {} --key {}",
            args.store.display(),
            args.key.display()
        );
    }
    Ok(())
}

pub fn push(args: &PushArgs) -> Result<(), CliError> {
    use outpost::push::{self, PushSettings};
    let verifier = Verifier::load(&args.key).map_err(sign_error)?;
    let bundle = outpost::bundle::open::OpenBundle::open(&args.bundle, Some(&verifier))
        .map_err(|e| CliError::new(exit::VERIFY, e))?;
    let auth = match &args.creds {
        None => None,
        Some(creds) => {
            let (user, password) = creds
                .split_once(':')
                .ok_or_else(|| input(anyhow::anyhow!("--creds must be user:password")))?;
            Some(oci_client::secrets::RegistryAuth::Basic(
                user.to_string(),
                password.to_string(),
            ))
        }
    };
    let settings = PushSettings {
        registry: args.to.trim_end_matches('/').to_string(),
        prefix: args.prefix.clone(),
        plain_http: args.plain_http,
        auth,
        jobs: args.jobs,
    };
    let bars = Bars::new(args.json);
    let summary = runtime()?
        .block_on(push::push(&bundle, &settings, &bars))
        .map_err(|e| match e {
            push::PushError::BadPrefix(_) | push::PushError::Conflict { .. } => input(e),
            other => CliError::new(exit::UPSTREAM, other),
        })?;
    bars.finish();
    if args.json {
        print_json(&serde_json::to_value(&summary).unwrap_or_default());
    } else {
        println!(
            "pushed {} image(s) into {} repositories on {}",
            summary.images, summary.repositories, settings.registry
        );
        println!(
            "blobs:     {} uploaded ({}), {} mounted, {} already there",
            summary.blobs_pushed,
            mib(summary.bytes_pushed),
            summary.blobs_mounted,
            summary.blobs_skipped
        );
        println!(
            "manifests: {} pushed, {} already there",
            summary.manifests_pushed, summary.manifests_skipped
        );
        if let Some(artifacts) = &summary.artifacts {
            println!(
                "artifacts: lockfile and files in {}/{artifacts}",
                settings.registry
            );
        }
        for reduced in &summary.reduced {
            println!("reduced:   {reduced}: the registry refused the index as pinned (it lists platforms the bundle does not carry), so the tag names an index of the carried platforms");
        }
    }
    Ok(())
}

pub fn store_list(target: &StoreArgs) -> Result<(), CliError> {
    let (dir, as_json) = (target.store.as_path(), target.json);
    let site = SiteStore::open(dir)?;
    let releases = site.releases()?;
    if as_json {
        print_json(&json!({"store": dir, "releases": releases}));
        return Ok(());
    }
    if releases.is_empty() {
        println!("{} holds no release", dir.display());
    }
    for release in &releases {
        println!(
            "{:<20} {:<12} {}  loaded {}{}",
            release.name,
            release.version,
            release.index_digest,
            release.loaded,
            release
                .base
                .as_ref()
                .map(|b| format!("  (delta on {b})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

pub fn store_prune(target: &StoreArgs, keep: usize) -> Result<(), CliError> {
    let (dir, as_json) = (target.store.as_path(), target.json);
    let site = SiteStore::open(dir)?;
    let report = site.prune(keep)?;
    if as_json {
        print_json(&serde_json::to_value(&report).unwrap_or_default());
        return Ok(());
    }
    for release in &report.removed_releases {
        println!("removed {} {}", release.name, release.version);
    }
    println!(
        "pruned {}: {} release(s) and {} blob(s) removed, {} freed",
        dir.display(),
        report.removed_releases.len(),
        report.removed_blobs,
        mib(report.freed_bytes)
    );
    Ok(())
}

pub fn store_verify(target: &StoreArgs, key: &Path) -> Result<(), CliError> {
    let (dir, as_json) = (target.store.as_path(), target.json);
    let verifier = Verifier::load(key).map_err(sign_error)?;
    let site = SiteStore::open(dir)?;
    let report = site
        .check(Some(&verifier))
        .map_err(|e| CliError::new(exit::VERIFY, e))?;
    if as_json {
        print_json(
            &json!({"store": dir, "ok": true, "releases": report.releases, "blobs": report.blobs, "bytes": report.bytes}),
        );
    } else {
        println!(
            "OK {}: {} release(s) signed by {}; {} blobs ({}) match their digests",
            dir.display(),
            report.releases,
            verifier.fingerprint(),
            report.blobs,
            mib(report.bytes)
        );
    }
    Ok(())
}

pub fn join(args: &JoinArgs) -> Result<(), CliError> {
    use outpost::bundle::parts::{BundleFile, PartsError};
    let verify_error = |e: PartsError| match e {
        PartsError::Io { .. } => CliError::from(e),
        other => CliError::new(exit::VERIFY, other),
    };
    let bundle = BundleFile::open(&args.bundle).map_err(verify_error)?;
    let (Some(list), Some(list_path)) = (&bundle.parts, &bundle.list_path) else {
        return Err(input(anyhow::anyhow!(
            "{} is a whole tar already; join takes NAME.parts.json or a part",
            args.bundle.display()
        )));
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| list_path.with_file_name(&list.bundle));
    let bytes = outpost::bundle::parts::join(&bundle, &out).map_err(verify_error)?;
    println!(
        "joined {} parts into {} ({}); every part matched its sha256",
        bundle.part_count(),
        out.display(),
        mib(bytes)
    );
    Ok(())
}

pub fn inspect(args: &InspectArgs) -> Result<(), CliError> {
    let found = inspect::inspect(&args.bundle).map_err(|e| match e {
        inspect::InspectError::Io { .. } => CliError::from(e),
        other => CliError::new(exit::VERIFY, other),
    })?;
    if args.json {
        print_json(&serde_json::to_value(&found).unwrap_or_default());
        return Ok(());
    }
    println!(
        "bundle:    {} ({})",
        found.path.display(),
        mib(found.file_size)
    );
    if let Some(parts) = found.parts {
        println!("parts:     {parts}");
    }
    println!("release:   {} {}", found.release, found.version);
    if let Some(delta) = &found.delta {
        println!(
            "delta on:  {} ({}); {} blobs, {} saved (the base has them)",
            delta.base_release.trim(),
            delta.base,
            delta.omitted_blobs,
            mib(delta.saved_bytes)
        );
    }
    if let Some(version) = &found.kubernetes_version {
        println!("kubernetes: {version}");
    }
    println!(
        "signer:    {} (as the bundle claims; `bundle verify` checks it)",
        found.signer
    );
    println!("manifest:  {}", found.manifest_digest);
    println!("index:     {}", found.index_digest);
    if let Some(lock) = &found.lockfile {
        println!("lockfile:  artifact {lock}");
    }
    println!();
    let width = found
        .images
        .iter()
        .map(|i| i.reference.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:width$}  {:<19}  {:>10}  {:>6}  PLATFORMS",
        "IMAGE", "DIGEST", "SIZE", "LAYERS"
    );
    for image in &found.images {
        println!(
            "{:width$}  {:<19}  {:>10}  {:>6}  {}",
            image.reference,
            &image.digest.to_string()[..19],
            mib(image.size),
            image.layers,
            image.platforms.join(",")
        );
    }
    if !found.files.is_empty() {
        println!();
        let width = found
            .files
            .iter()
            .map(|f| f.path.len())
            .max()
            .unwrap_or(4)
            .max(4);
        println!("{:width$}  {:>10}  NOTE", "FILE", "SIZE");
        for file in &found.files {
            let note = if file.insecure {
                "INSECURE: no upstream checksum"
            } else {
                ""
            };
            println!("{:width$}  {:>10}  {note}", file.path, mib(file.size));
        }
    }
    println!();
    println!(
        "{} image(s), {} file(s), {} unique blobs, {} of content",
        found.images.len(),
        found.files.len(),
        found.blobs,
        mib(found.unique_bytes)
    );
    Ok(())
}

/// Opens every release of the store (oldest load first: where releases differ, a moved tag
/// or a changed file, the newest wins) and then every bundle named, checking signatures.
fn open_served(
    store: Option<&Path>,
    paths: &[PathBuf],
    verifier: Option<&Verifier>,
) -> Result<Vec<outpost::bundle::open::OpenBundle>, CliError> {
    let mut bundles = Vec::new();
    if let Some(dir) = store {
        let site = SiteStore::open(dir)?;
        for release in &site.releases()? {
            let open = site
                .open_release(release, verifier)
                .map_err(|e| CliError::new(exit::VERIFY, e))?;
            bundles.push(open);
        }
    }
    for path in paths {
        let bundle = outpost::bundle::open::OpenBundle::open(path, verifier)
            .map_err(|e| CliError::new(exit::VERIFY, e))?;
        bundles.push(bundle);
    }
    Ok(bundles)
}

pub fn serve(args: &ServeArgs) -> Result<(), CliError> {
    use outpost::server::{self, catalog::Catalog, tls};
    let verifier = if args.insecure_skip_verify {
        tracing::warn!("--insecure-skip-verify: serving bundles WITHOUT checking their signatures");
        eprintln!("WARNING: --insecure-skip-verify: bundle signatures are NOT checked; anything in them will be served");
        None
    } else {
        Some(Verifier::load(&args.key).map_err(sign_error)?)
    };
    let mut _serving = None;
    if let Some(dir) = &args.store {
        let site = SiteStore::open(dir)?;
        _serving = Some(site.serving()?);
        if site.releases()?.is_empty() && args.bundles.is_empty() {
            return Err(input(anyhow::anyhow!(
                "store {} holds no release; `outpost load BUNDLE --store {}` first",
                dir.display(),
                dir.display()
            )));
        }
    }
    let verifier = std::sync::Arc::new(verifier);
    let bundles = open_served(
        args.store.as_deref(),
        &args.bundles,
        verifier.as_ref().as_ref(),
    )?;
    // SIGHUP re-reads the store (releases loaded since start) and re-opens the bundles.
    let reload: server::Reload = {
        let (store, paths, verifier) = (args.store.clone(), args.bundles.clone(), verifier.clone());
        Box::new(move || {
            open_served(store.as_deref(), &paths, verifier.as_ref().as_ref())
                .map(Catalog::new)
                .map_err(|e| format!("{:#}", e.error))
        })
    };
    let images: usize = bundles.iter().map(|b| b.images.len()).sum();
    let catalog = Catalog::new(bundles);
    let repositories = catalog.repository_names().count();
    let (tls_files, scheme) = match (&args.tls, &args.tls_cert, &args.tls_key) {
        (Some(TlsMode::Auto), _, _) => {
            let made = tls::auto(&args.state_dir, &args.hostnames).map_err(CliError::from)?;
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
        (None, Some(cert), Some(key)) => (
            Some(tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            "https",
        ),
        _ => (None, "http"),
    };
    let settings = server::ServeSettings {
        listen: args.listen,
        tls: tls_files,
        max_concurrent_requests: args.max_concurrent_requests.max(1),
        shutdown_grace: std::time::Duration::from_secs(30),
    };
    let bundle_count = catalog.bundles().len();
    runtime()?
        .block_on(server::serve(catalog, settings, Some(reload), |addr| {
            println!("serving {images} image(s) in {repositories} repositories from {bundle_count} release(s) on {scheme}://{addr}");
        }))
        .map_err(CliError::from)
}

pub fn config_containerd(args: &ContainerdArgs) -> Result<(), CliError> {
    use outpost::nodeconfig::containerd;
    if !(args.mirror.starts_with("http://") || args.mirror.starts_with("https://")) {
        return Err(input(anyhow::anyhow!(
            "--mirror `{}` must be a URL such as https://mirror.site:5000",
            args.mirror
        )));
    }
    let mut registries = std::collections::BTreeSet::new();
    for path in &args.bundles {
        let bundle = open_for_config(path, &args.trust)?;
        registries.extend(bundle.registries());
    }
    for registry in &registries {
        let path = args.out.join(registry).join("hosts.toml");
        let text = containerd::hosts_toml(registry, &args.mirror, args.ca.as_deref());
        outpost::fsutil::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    println!(
        "{}",
        containerd::config_path_hint("/etc/containerd/certs.d")
    );
    Ok(())
}

/// Opens a bundle for a `config` command: its signature must hold, since what it says
/// becomes node configuration (and, for apt, a trust anchor).
fn open_for_config(
    path: &Path,
    trust: &super::args::TrustArgs,
) -> Result<outpost::bundle::open::OpenBundle, CliError> {
    let verifier = if trust.insecure_skip_verify {
        eprintln!("WARNING: --insecure-skip-verify: the bundle's signature is NOT checked");
        None
    } else {
        Some(Verifier::load(&trust.key).map_err(sign_error)?)
    };
    outpost::bundle::open::OpenBundle::open(path, verifier.as_ref())
        .map_err(|e| CliError::new(exit::VERIFY, e))
}

pub fn config_kubeadm(args: &KubeadmArgs) -> Result<(), CliError> {
    if args.mirror.contains("://") {
        return Err(input(anyhow::anyhow!(
            "--mirror for kubeadm is host:port (it becomes the image repository), not a URL: `{}`",
            args.mirror
        )));
    }
    let bundle = open_for_config(&args.bundle, &args.trust)?;
    let version = bundle.kubernetes_version.clone().ok_or_else(|| {
        input(anyhow::anyhow!(
            "{} carries no Kubernetes release (its manifest has no spec.kubernetes)",
            args.bundle.display()
        ))
    })?;
    print!(
        "{}",
        outpost::nodeconfig::kubeadm::cluster_configuration(&args.mirror, &version)
    );
    Ok(())
}

pub fn config_kubespray(args: &KubesprayArgs) -> Result<(), CliError> {
    let Some((_, authority)) = args.mirror.split_once("://") else {
        return Err(input(anyhow::anyhow!(
            "--mirror `{}` must be a URL such as https://mirror.site:5000",
            args.mirror
        )));
    };
    let bundle = open_for_config(&args.bundle, &args.trust)?;
    let paths: Vec<String> = bundle.files.iter().map(|f| f.path.clone()).collect();
    let files_url = format!("{}/files", args.mirror.trim_end_matches('/'));
    print!(
        "{}",
        outpost::nodeconfig::kubespray::offline_vars(
            &files_url,
            authority.trim_end_matches('/'),
            bundle.kubernetes_version.as_deref(),
            &paths,
            &bundle.registries(),
        )
    );
    Ok(())
}

pub fn config_apt(args: &AptArgs) -> Result<(), CliError> {
    use outpost::bundle::aptrepo;
    if !(args.mirror.starts_with("http://") || args.mirror.starts_with("https://")) {
        return Err(input(anyhow::anyhow!(
            "--mirror `{}` must be a URL such as https://mirror.site:5000",
            args.mirror
        )));
    }
    let bundle = open_for_config(&args.bundle, &args.trust)?;
    let keys: Vec<&outpost::bundle::open::IndexedFile> = bundle
        .files
        .iter()
        .filter(|f| {
            f.path.starts_with("apt/") && f.path.ends_with(&format!("/{}", aptrepo::KEYRING))
        })
        .collect();
    if keys.is_empty() {
        return Err(input(anyhow::anyhow!(
            "{} carries no Debian packages (its manifest has no spec.packages)",
            args.bundle.display()
        )));
    }
    for key in keys {
        let repo = key
            .path
            .trim_start_matches("apt/")
            .trim_end_matches(&format!("/{}", aptrepo::KEYRING));
        let location = bundle.blobs.get(&key.digest).copied().ok_or_else(|| {
            CliError::new(
                exit::VERIFY,
                anyhow::anyhow!("the key of {repo} is missing from the bundle"),
            )
        })?;
        let bytes = bundle
            .backing
            .read_verified(&key.digest, location)
            .map_err(|e| {
                CliError::new(
                    exit::VERIFY,
                    anyhow::anyhow!(
                        "{}: the apt key of {repo}: {e}; run `outpost bundle verify`",
                        args.bundle.display()
                    ),
                )
            })?;
        let name = format!("outpost-{repo}.gpg");
        let path = args.out.join(&name);
        outpost::fsutil::write_atomic(&path, &bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "wrote {} (copy it to {} on every node)",
            path.display(),
            args.key_dir
        );
        println!(
            "Types: deb\nURIs: {}/apt/{repo}\nSuites: {}\nComponents: {}\nSigned-By: {}/{name}\n",
            args.mirror.trim_end_matches('/'),
            aptrepo::SUITE,
            aptrepo::COMPONENT,
            args.key_dir.trim_end_matches('/')
        );
    }
    Ok(())
}
