//! Debian packages → pins: read each source's `InRelease` (or `Release` + `Release.gpg`),
//! check its OpenPGP signature against the source's keyring and its `Valid-Until`, fetch the
//! `Packages` index it lists (verified against the Release's SHA256, by-hash when offered),
//! and resolve the dependency closure per architecture.

use super::error::{ResolveError, VersionClash};
use crate::checksum::{Algorithm, Expected};
use crate::debian::closure::{closure, essential_set, Package, Request, Universe};
use crate::debian::control;
use crate::debian::openpgp::Keyring;
use crate::debian::release::Release as ReleaseFile;
use crate::debian::sources::{system_sources, AptSource};
use crate::digest::Digest;
use crate::lock::DebPin;
use crate::manifest::{AptSpec, Release};
use crate::store::{Store, StoreError};
use crate::upstream::http::{Http, HttpError};
use futures::StreamExt;
use std::collections::HashSet;
use std::io::Read;
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

fn sources_of(spec: &AptSpec, etc_apt: &Path) -> Result<Vec<AptSource>, ResolveError> {
    match (&spec.source, &spec.url) {
        (Some(_), _) => {
            let sources = system_sources(etc_apt).map_err(|e| ResolveError::AptSources {
                etc: etc_apt.to_path_buf(),
                message: e.to_string(),
            })?;
            if sources.is_empty() {
                return Err(ResolveError::AptNoHostSource {
                    etc: etc_apt.to_path_buf(),
                });
            }
            Ok(sources)
        }
        (None, Some(url)) => Ok(vec![AptSource {
            uri: url.trim_end_matches('/').to_string(),
            suite: spec.suite.clone().unwrap_or_default(),
            components: if spec.components.is_empty() {
                vec!["main".into()]
            } else {
                spec.components.clone()
            },
            signed_by: spec.keyring.as_ref().map(PathBuf::from),
            trusted: spec.trusted,
        }]),
        (None, None) => Err(ResolveError::AptNoSource),
    }
}

/// The verified Release of a source.
async fn read_release(
    http: &Http,
    source: &AptSource,
    etc_apt: &Path,
    trusted_override: bool,
) -> Result<ReleaseFile, ResolveError> {
    let base = format!("{}/dists/{}", source.uri, source.suite);
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
    let inrelease_url = format!("{base}/InRelease");
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
            let release_url = format!("{base}/Release");
            let bytes = http
                .get_small(&release_url, 64 << 20)
                .await
                .map_err(apt_http)?;
            if !trusted {
                let signature_url = format!("{base}/Release.gpg");
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

/// Downloads (or finds in the cache) one Packages index and parses it.
async fn read_packages(
    http: &Http,
    store: &Store,
    source: &AptSource,
    release: &ReleaseFile,
    component: &str,
    arch: &str,
) -> Result<Vec<Package>, ResolveError> {
    let base = format!("{}/dists/{}", source.uri, source.suite);
    let stem = format!("{component}/binary-{arch}/Packages");
    let entry = ["xz", "gz", ""]
        .iter()
        .find_map(|ext| release.entry(&if ext.is_empty() { stem.clone() } else { format!("{stem}.{ext}") }))
        .ok_or_else(|| index_error(&format!("{base}/{stem}"), format!("the Release file lists no {stem} index (is `{arch}` or `{component}` in this suite?)")))?;
    let url = if release.acquire_by_hash {
        format!(
            "{base}/{component}/binary-{arch}/by-hash/SHA256/{}",
            entry.sha256
        )
    } else {
        format!("{base}/{}", entry.path)
    };
    let digest = Digest::from_hex(&entry.sha256).map_err(|e| index_error(&url, e))?;
    if !store.has(&digest, entry.size) {
        let mut download = store.begin_download().map_err(cache_error(&url))?;
        let mut stream = http.stream(&url, 0).await.map_err(apt_http)?.stream;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => download.write(&chunk).map_err(cache_error(&url))?,
                Err(e) => {
                    download.discard();
                    return Err(http_error(&url, format!("download interrupted: {e}")));
                }
            }
        }
        let expected = Expected {
            algorithm: Algorithm::Sha256,
            hex: entry.sha256.clone(),
        };
        download
            .finish(Some(&expected))
            .map_err(|e| match e {
                StoreError::Io { .. } => cache_error(&url)(e),
                mismatch => index_error(&url, format!("{mismatch}: the index does not match the signed Release (tampered or a half-updated mirror)")),
            })?;
    }
    // Decompressing a large index costs seconds; the result is kept beside the cache,
    // named by the digest of the verified compressed index it came from.
    let derived = store
        .root()
        .join("derived")
        .join(format!("{}.Packages", digest.hex()));
    let text = match std::fs::read(&derived) {
        Ok(text) => text,
        Err(_) => {
            let compressed = store.read_bytes(&digest).map_err(cache_error(&url))?;
            let mut text = Vec::new();
            if entry.path.ends_with(".xz") {
                lzma_rs::xz_decompress(&mut &compressed[..], &mut text)
                    .map_err(|e| index_error(&url, format!("xz: {e:?}")))?;
            } else if entry.path.ends_with(".gz") {
                flate2::read::GzDecoder::new(&compressed[..])
                    .read_to_end(&mut text)
                    .map_err(|e| index_error(&url, format!("gzip: {e}")))?;
            } else {
                text = compressed;
            }
            let _ = crate::fsutil::write_atomic(&derived, &text);
            text
        }
    };
    let text = String::from_utf8_lossy(&text);
    let paragraphs = control::parse(&text).map_err(|e| index_error(&url, e))?;
    let mut packages = Vec::with_capacity(paragraphs.len());
    for paragraph in paragraphs {
        let mut package = Package::from_paragraph(paragraph).map_err(|e| index_error(&url, e))?;
        package.origin = format!("{} {}", source.uri, source.suite);
        packages.push(package);
    }
    Ok(packages)
}

/// Control fields carried into the generated repository's Packages files.
const CONTROL_FIELDS: [&str; 19] = [
    "Package",
    "Source",
    "Version",
    "Installed-Size",
    "Maintainer",
    "Architecture",
    "Multi-Arch",
    "Essential",
    "Priority",
    "Section",
    "Replaces",
    "Provides",
    "Pre-Depends",
    "Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Enhances",
];

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
        let sources = sources_of(spec, etc_apt)?;
        let mut releases = Vec::new();
        for source in &sources {
            releases.push(read_release(http, source, etc_apt, false).await?);
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
            let mut all = Vec::new();
            for (source, release_file) in sources.iter().zip(&releases) {
                for component in &source.components {
                    if release_file
                        .entry(&format!("{component}/binary-{arch}/Packages.xz"))
                        .is_none()
                        && release_file
                            .entry(&format!("{component}/binary-{arch}/Packages.gz"))
                            .is_none()
                        && release_file
                            .entry(&format!("{component}/binary-{arch}/Packages"))
                            .is_none()
                    {
                        continue;
                    }
                    all.extend(
                        read_packages(http, store, source, release_file, component, arch).await?,
                    );
                }
            }
            let universe = Universe::new(all, arch);
            let installed: HashSet<usize> = match &spec.assume_installed {
                Some(names) => {
                    let mut set = HashSet::new();
                    for name in names {
                        if let Ok(request) = Request::parse(name) {
                            if let Ok(chosen) =
                                closure(&universe, &[request], &HashSet::new(), false)
                            {
                                set.extend(chosen.into_iter().map(|c| c.index));
                            }
                        }
                    }
                    set
                }
                None => essential_set(&universe),
            };
            let chosen =
                closure(&universe, &requests, &installed, spec.recommends).map_err(|closure| {
                    ResolveError::AptClosure {
                        arch: arch.clone(),
                        closure,
                    }
                })?;
            for pick in chosen {
                let package = universe.package(pick.index);
                let field = |name: &str| package.fields.get(name).unwrap_or("").to_string();
                let path = field("Filename");
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
                    url: format!("{uri}/{path}"),
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
