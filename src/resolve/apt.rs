//! Debian packages → pins: read each source's `InRelease` (or `Release` + `Release.gpg`),
//! check its OpenPGP signature against the source's keyring and its `Valid-Until`, fetch the
//! `Packages` index it lists (verified against the Release's SHA256, by-hash when offered),
//! and resolve the dependency closure per architecture. Flat repositories (`deb URI ./`) are
//! read where apt reads them. Of the host's sources, one that cannot be used is skipped and
//! named (`Reporter::note`), as apt goes on without it; the resolution fails only when the
//! closure lacks a package that source might have had. Pool URLs are encoded as apt
//! encodes them; the lockfile keeps the names as the index lists them.

mod index;

use super::error::{ResolveError, SkippedSource, VersionClash};
use crate::debian::closure::ClosureError;
use crate::debian::closure::{closure, essential_set, Package, Request};
use crate::debian::control;
use crate::debian::openpgp::Keyring;
use crate::debian::release::Release as ReleaseFile;
use crate::debian::sources::{archive_url, pool_path, system_sources, AptSource};
use crate::debian::universe::UniverseBuilder;
use crate::digest::Digest;
use crate::lock::DebPin;
use crate::manifest::{AptSpec, Release};
use crate::progress::Reporter;
use crate::store::{Store, StoreError};
use crate::upstream::http::{Http, HttpError};
use index::{read_source_packages, IndexFiles, CONTROL_FIELDS};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn http_error(url: &str, message: impl std::fmt::Display) -> ResolveError {
    ResolveError::AptHttp {
        url: url.to_string(),
        message: message.to_string(),
    }
}

/// An HTTP failure as an apt error, naming its URL once.
fn apt_http(error: HttpError) -> ResolveError {
    ResolveError::AptHttp {
        url: error.url().to_string(),
        message: error.detail(),
    }
}

fn index_error(url: &str, message: impl std::fmt::Display) -> ResolveError {
    ResolveError::AptIndex {
        url: url.to_string(),
        message: message.to_string(),
    }
}

fn cache_error(url: &str) -> impl Fn(StoreError) -> ResolveError + '_ {
    move |store| ResolveError::AptCache {
        url: url.to_string(),
        store,
    }
}

/// Debian architecture names for a platform.
pub fn debian_arch(platform: &crate::platform::Platform) -> String {
    match (platform.architecture.as_str(), platform.variant.as_deref()) {
        ("arm", Some("v7")) | ("arm", None) => "armhf".into(),
        ("arm", Some("v6")) | ("arm", Some("v5")) => "armel".into(),
        ("386", _) => "i386".into(),
        ("ppc64le", _) => "ppc64el".into(),
        (arch, _) => arch.into(),
    }
}

fn default_keyrings(etc: &Path) -> Vec<PathBuf> {
    let mut keyrings = Vec::new();
    if etc.join("trusted.gpg").is_file() {
        keyrings.push(etc.join("trusted.gpg"));
    }
    if let Ok(dir) = std::fs::read_dir(etc.join("trusted.gpg.d")) {
        let mut files: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("gpg" | "asc")))
            .collect();
        files.sort();
        keyrings.extend(files);
    }
    keyrings
}

/// The sources of one `spec.packages.apt` entry, and the host's entries apt would refuse
/// (skipped, named). An explicit `url:` entry apt would refuse is an error.
fn sources_of(
    spec: &AptSpec,
    etc_apt: &Path,
) -> Result<(Vec<AptSource>, Vec<SkippedSource>), ResolveError> {
    match (&spec.source, &spec.url) {
        (Some(_), _) => {
            let entries = system_sources(etc_apt).map_err(|e| ResolveError::AptSources {
                etc: etc_apt.to_path_buf(),
                message: e.to_string(),
            })?;
            if entries.is_empty() {
                return Err(ResolveError::AptNoHostSource {
                    etc: etc_apt.to_path_buf(),
                });
            }
            let (mut sources, mut skipped) = (Vec::new(), Vec::new());
            for entry in entries {
                match entry {
                    Ok(source) => sources.push(source),
                    Err(malformed) => skipped.push(SkippedSource {
                        name: malformed.origin,
                        reason: format!("apt refuses the entry: {}", malformed.message),
                    }),
                }
            }
            Ok((sources, skipped))
        }
        (None, Some(url)) => {
            let suite = spec.suite.clone().unwrap_or_default();
            let components = if spec.components.is_empty() && !suite.ends_with('/') {
                vec!["main".into()]
            } else {
                spec.components.clone()
            };
            let source = AptSource {
                uri: url.trim_end_matches('/').to_string(),
                suite,
                components,
                signed_by: spec.keyring.as_ref().map(PathBuf::from),
                trusted: spec.trusted,
                origin: "spec.packages.apt".to_string(),
            }
            .check()
            .map_err(ResolveError::AptMalformedSource)?;
            Ok((vec![source], Vec::new()))
        }
        (None, None) => Err(ResolveError::AptNoSource),
    }
}

/// Whether a failure is the source's own (it cannot be used: unreachable, unsigned, its
/// metadata bad or its keyring missing), as opposed to this machine's (the cache).
fn source_failure(error: &ResolveError) -> bool {
    matches!(
        error,
        ResolveError::AptHttp { .. }
            | ResolveError::AptSignature { .. }
            | ResolveError::AptIndex { .. }
            | ResolveError::AptKeyring { .. }
    )
}

fn skipped(source: &AptSource, error: &ResolveError) -> SkippedSource {
    SkippedSource {
        name: format!("{} ({})", source.describe(), source.origin),
        reason: error.to_string(),
    }
}

/// The verified Release of a source.
async fn read_release(
    http: &Http,
    source: &AptSource,
    etc_apt: &Path,
    trusted_override: bool,
) -> Result<ReleaseFile, ResolveError> {
    let keyrings = match &source.signed_by {
        Some(path) => vec![path.clone()],
        None => default_keyrings(etc_apt),
    };
    let load_keyring = |url: &str| {
        Keyring::load(&keyrings).map_err(|pgp| ResolveError::AptKeyring {
            url: url.to_string(),
            pgp,
        })
    };
    let trusted = source.trusted || trusted_override;
    let inrelease_url = source.meta_url("InRelease");
    let text = match http.get_small(&inrelease_url, 64 << 20).await {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if trusted {
                strip_clearsign(&text)
            } else {
                let keyring = load_keyring(&inrelease_url)?;
                keyring
                    .verify_clearsigned(&text)
                    .map_err(|e| ResolveError::AptSignature {
                        url: inrelease_url.clone(),
                        message: format!(
                            "{e} (is the keyring right? set `keyring:` on the source)"
                        ),
                    })?
            }
        }
        Err(HttpError::Status { status: 404, .. }) => {
            let release_url = source.meta_url("Release");
            let bytes = http
                .get_small(&release_url, 64 << 20)
                .await
                .map_err(apt_http)?;
            if !trusted {
                let signature_url = source.meta_url("Release.gpg");
                let signature = http.get_small(&signature_url, 1 << 20).await.map_err(|e| {
                    ResolveError::AptSignature {
                        url: signature_url.clone(),
                        message: format!(
                            "the source is not signed ({}); set `trusted: true` to accept it anyway",
                            e.detail()
                        ),
                    }
                })?;
                let keyring = load_keyring(&release_url)?;
                keyring.verify_detached(&bytes, &signature).map_err(|e| {
                    ResolveError::AptSignature {
                        url: signature_url.clone(),
                        message: e.to_string(),
                    }
                })?;
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Err(e) => return Err(apt_http(e)),
    };
    let release = ReleaseFile::parse(&text).map_err(|e| index_error(&inrelease_url, e))?;
    let raw_valid_until = control::parse(&text)
        .ok()
        .and_then(|p| {
            p.first()
                .and_then(|p| p.get("Valid-Until").map(str::to_string))
        })
        .unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    release
        .check_valid(now, &raw_valid_until)
        .map_err(|e| index_error(&inrelease_url, e))?;
    Ok(release)
}

/// The text of a clear-signed document without checking it (`trusted: true`).
fn strip_clearsign(text: &str) -> String {
    if !text.starts_with("-----BEGIN PGP SIGNED MESSAGE-----") {
        return text.to_string();
    }
    let body = text
        .split_once("\n\n")
        .map(|(_, body)| body)
        .unwrap_or(text);
    body.split("\n-----BEGIN PGP SIGNATURE-----")
        .next()
        .unwrap_or(body)
        .lines()
        .map(|l| l.strip_prefix("- ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

fn control_text(package: &Package) -> String {
    let mut text = String::new();
    for name in CONTROL_FIELDS {
        if let Some(value) = package.fields.get(name) {
            text.push_str(&format!("{name}: {}\n", value.replace('\n', "\n ")));
        }
    }
    if let Some(description) = package.fields.get("Description") {
        text.push_str(&format!(
            "Description: {}\n",
            description.lines().next().unwrap_or("")
        ));
    }
    text
}

/// Resolves every `spec.packages.apt` entry for every platform. `etc_apt` is the host's apt
/// configuration directory (`/etc/apt`): its sources serve `source: system` entries and its
/// trusted keys check sources without `keyring:`.
pub async fn resolve(
    release: &Release,
    http: &Http,
    store: &Store,
    etc_apt: &Path,
    reporter: &dyn Reporter,
) -> Result<Vec<DebPin>, ResolveError> {
    let mut pins = Vec::new();
    let Some(packages) = &release.spec.packages else {
        return Ok(pins);
    };
    let arches: Vec<String> = {
        let mut list: Vec<String> = release.platforms().iter().map(debian_arch).collect();
        list.dedup();
        list
    };
    for spec in &packages.apt {
        let (sources, mut unusable) = sources_of(spec, etc_apt)?;
        // One explicit archive is the whole entry: its failure is the answer. The host's
        // sources are many, and apt goes on without one it cannot use; so does this, naming
        // it, and fails only when the closure lacks something that source might have had.
        let explicit = spec.url.is_some() && spec.source.is_none();
        for skip in &unusable {
            reporter.note(&format!("skipped apt source {skip}"));
        }
        let mut usable = Vec::new();
        for source in sources {
            match read_release(http, &source, etc_apt, false).await {
                Ok(release_file) => usable.push((source, release_file)),
                Err(e) if !explicit && source_failure(&e) => {
                    let skip = skipped(&source, &e);
                    reporter.note(&format!("skipped apt source {skip}"));
                    unusable.push(skip);
                }
                Err(e) => return Err(e),
            }
        }
        let requests: Vec<Request> = spec
            .packages
            .iter()
            .map(|p| {
                Request::parse(p).map_err(|relation| ResolveError::AptRequest {
                    request: p.clone(),
                    relation,
                })
            })
            .collect::<Result<_, _>>()?;
        for arch in &arches {
            // Only a compact index of each source's packages is held; a package is read
            // back from its decompressed index when the closure reaches it.
            let mut builder = UniverseBuilder::new(arch);
            let mut files = IndexFiles::default();
            let mut unusable_here = unusable.clone();
            for (source, release_file) in &usable {
                let mark = (builder.len(), files.len());
                let read = read_source_packages(
                    http,
                    store,
                    source,
                    release_file,
                    arch,
                    &mut builder,
                    &mut files,
                )
                .await;
                match read {
                    Ok(()) => {}
                    Err(e) if !explicit && source_failure(&e) => {
                        builder.truncate(mark.0);
                        files.truncate(mark.1);
                        let skip = skipped(source, &e);
                        reporter.note(&format!("skipped apt source for {arch}: {skip}"));
                        unusable_here.push(skip);
                    }
                    Err(e) => return Err(e),
                }
            }
            let universe = builder.build(Box::new(files));
            let closure_error = |closure| ResolveError::AptClosure {
                arch: arch.clone(),
                closure,
            };
            let installed: HashSet<usize> = match &spec.assume_installed {
                Some(names) => {
                    let mut set = HashSet::new();
                    for name in names {
                        if let Ok(request) = Request::parse(name) {
                            match closure(&universe, &[request], &HashSet::new(), false) {
                                Ok(chosen) => set.extend(chosen.into_iter().map(|c| c.index)),
                                Err(e @ ClosureError::Read(_)) => return Err(closure_error(e)),
                                Err(_) => {}
                            }
                        }
                    }
                    set
                }
                None => essential_set(&universe).map_err(closure_error)?,
            };
            let chosen =
                closure(&universe, &requests, &installed, spec.recommends).map_err(|closure| {
                    match closure {
                        ClosureError::Unknown(_) | ClosureError::Unsatisfiable { .. }
                            if !unusable_here.is_empty() =>
                        {
                            ResolveError::AptSourceNeeded {
                                arch: arch.clone(),
                                closure,
                                skipped: unusable_here.clone(),
                            }
                        }
                        closure => ResolveError::AptClosure {
                            arch: arch.clone(),
                            closure,
                        },
                    }
                })?;
            for pick in chosen {
                let package = universe.package(pick.index).map_err(closure_error)?;
                let field = |name: &str| package.fields.get(name).unwrap_or("").to_string();
                let filename = field("Filename");
                let path = pool_path(&filename).map_err(|e| {
                    index_error(&package.name, format!("Filename `{filename}`: {e}"))
                })?;
                let sha256 =
                    Digest::from_hex(&field("SHA256").to_ascii_lowercase()).map_err(|e| {
                        index_error(&package.name, format!("no usable SHA256 in the index: {e}"))
                    })?;
                let size = field("Size")
                    .parse()
                    .map_err(|_| index_error(&package.name, "no Size in the index"))?;
                let uri = package
                    .origin
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string();
                pins.push(DebPin {
                    name: package.name.clone(),
                    version: package.version.to_string(),
                    arch: package.architecture.clone(),
                    url: archive_url(&uri, &filename),
                    path,
                    sha256,
                    size,
                    source: package.origin.clone(),
                    why: pick.why,
                    control: control_text(package),
                });
            }
        }
    }
    // One version per package and architecture across every apt entry: two would not
    // install side by side at the site.
    pins.sort_by(|a, b| (&a.arch, &a.name, &a.version).cmp(&(&b.arch, &b.name, &b.version)));
    pins.dedup_by(|a, b| a.arch == b.arch && a.name == b.name && a.version == b.version);
    for pair in pins.windows(2) {
        if pair[0].arch == pair[1].arch && pair[0].name == pair[1].name {
            return Err(ResolveError::AptVersionClash(Box::new(VersionClash {
                name: pair[0].name.clone(),
                arch: pair[0].arch.clone(),
                first: pair[0].version.clone(),
                first_why: pair[0].why.clone(),
                second: pair[1].version.clone(),
                second_why: pair[1].why.clone(),
            })));
        }
    }
    Ok(pins)
}
