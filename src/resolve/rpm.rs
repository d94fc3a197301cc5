//! RPM packages → pins: per `spec.packages.rpm` entry and architecture, read each
//! repository's signed metadata (`metadata`), resolve the closure dnf would install
//! (`crate::rpm::closure`), reading `filelists.xml` only when a file dependency is not
//! satisfied by the files `primary.xml` lists, and pin every selected package by the
//! sha256 primary.xml gives for it. `source: system` reads the host's enabled
//! `/etc/yum.repos.d/*.repo` repositories with a `baseurl`.

mod metadata;
mod signature;

pub use metadata::decompress;

use super::ResolveError;
use crate::debian::openpgp::Keyring;
use crate::digest::Digest;
use crate::lock::{RpmPin, RpmRepoPin};
use crate::manifest::{rpm_arch, Release, RpmSpec};
use crate::progress::Reporter;
use crate::rpm::closure::{closure, Request, Universe};
use crate::rpm::dep::Req;
use crate::rpm::primary::Package;
use crate::store::Store;
use crate::upstream::http::Http;
use metadata::{join, parse_data, read_data, read_repomd, repo_error};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One repository of an entry, before `$basearch` is expanded.
#[derive(Debug, Clone)]
struct Source {
    /// The site repository (`/rpm/<name>/`).
    name: String,
    baseurl: String,
    gpgcheck: bool,
    repo_gpgcheck: bool,
    /// ASCII-armored public keys.
    keys: Vec<String>,
    /// The entry's `releasever:`, for `$releasever` in the baseurl.
    releasever: Option<String>,
}

/// Reads one `gpgkey`: an `http(s)://` URL, a `file://` path, or a path relative to the
/// manifest. It must be an ASCII-armored OpenPGP public key (what dnf takes too).
async fn load_key(http: &Http, dir: &Path, key: &str) -> Result<String, ResolveError> {
    let bad = |message: String| ResolveError::RpmKey {
        key: key.to_string(),
        message,
    };
    let bytes = if key.starts_with("http://") || key.starts_with("https://") {
        http.get_small(key, 1 << 20)
            .await
            .map_err(|e| bad(e.detail()))?
    } else {
        let path = match key.strip_prefix("file://") {
            Some(path) => PathBuf::from(path),
            None => dir.join(key),
        };
        std::fs::read(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?
    };
    let text = String::from_utf8(bytes)
        .ok()
        .filter(|t| t.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----"))
        .ok_or_else(|| {
            bad(
                "not an ASCII-armored OpenPGP public key (export it with `gpg --export --armor`)"
                    .into(),
            )
        })?;
    Keyring::from_bytes(key, text.as_bytes()).map_err(|e| bad(e.to_string()))?;
    Ok(text)
}

/// The repositories of one entry.
async fn sources_of(
    spec: &RpmSpec,
    http: &Http,
    dir: &Path,
    yum_repos: &Path,
    reporter: &dyn Reporter,
) -> Result<Vec<Source>, ResolveError> {
    if let Some(baseurl) = &spec.baseurl {
        let mut keys = Vec::new();
        for key in spec.gpgkey.iter().flat_map(|k| k.to_vec()) {
            keys.push(load_key(http, dir, &key).await?);
        }
        return Ok(vec![Source {
            name: spec.repo_name(),
            baseurl: baseurl.clone(),
            gpgcheck: spec.gpgcheck,
            repo_gpgcheck: spec.repo_gpgcheck,
            keys,
            releasever: spec.releasever.clone(),
        }]);
    }
    let no_repo = |message: String| ResolveError::RpmNoHostRepo {
        dir: yum_repos.to_path_buf(),
        message,
    };
    let listing = std::fs::read_dir(yum_repos)
        .map_err(|e| no_repo(format!("{e}; `source: system` reads the host's dnf repositories, which this host does not have: give `baseurl:` and `gpgkey:` instead")))?;
    let mut files: Vec<PathBuf> = listing
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "repo"))
        .collect();
    files.sort();
    let mut sources = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| no_repo(format!("{}: {e}", file.display())))?;
        let entries =
            crate::rpm::repofile::parse(&file.display().to_string(), &text).map_err(no_repo)?;
        for entry in entries.into_iter().filter(|e| e.enabled) {
            let Some(baseurl) = entry.baseurl else {
                reporter.note(&format!("skipped rpm repository [{}] of {}: it has no baseurl (mirrorlist and metalink are not read)", entry.id, entry.file));
                continue;
            };
            let mut keys = Vec::new();
            for key in &entry.gpgkeys {
                keys.push(load_key(http, dir, key).await?);
            }
            sources.push(Source {
                name: entry.id,
                baseurl,
                gpgcheck: entry.gpgcheck && spec.gpgcheck,
                repo_gpgcheck: entry.repo_gpgcheck && spec.repo_gpgcheck,
                keys,
                releasever: spec.releasever.clone(),
            });
        }
    }
    if sources.is_empty() {
        return Err(no_repo(
            "no enabled repository with a baseurl in its *.repo files".into(),
        ));
    }
    Ok(sources)
}

/// `$basearch`, `$arch` and `$releasever` expanded.
fn expand(baseurl: &str, arch: &str, releasever: Option<&str>) -> Result<String, ResolveError> {
    let url = baseurl.replace("$basearch", arch).replace("$arch", arch);
    match releasever {
        Some(version) => Ok(url.replace("$releasever", version)),
        None if url.contains("$releasever") => Err(repo_error(
            baseurl,
            "the baseurl uses $releasever: give `releasever:` in the entry",
        )),
        None => Ok(url),
    }
}

/// The architectures an entry resolves for: `arch:`, else those of `spec.platforms`.
pub(super) fn arches_of(spec: &RpmSpec, release: &Release) -> Vec<String> {
    if !spec.arch.is_empty() {
        return spec.arch.clone();
    }
    let mut arches: Vec<String> = release
        .platforms()
        .iter()
        .filter_map(|p| rpm_arch(&p.architecture).map(str::to_string))
        .collect();
    arches.dedup();
    arches
}

/// One repository's packages for one architecture, as read.
struct Loaded {
    source: usize,
    url: String,
    repomd: crate::rpm::repomd::Repomd,
    packages: Vec<Arc<Package>>,
}

/// Resolves every `spec.packages.rpm` entry for each of its architectures. `yum_repos` is
/// the host's dnf repository directory (`/etc/yum.repos.d`), read for `source: system`.
/// Returns the pins and the site repositories they are served from.
pub async fn resolve(
    release: &Release,
    http: &Http,
    store: &Store,
    yum_repos: &Path,
    reporter: &dyn Reporter,
) -> Result<(Vec<RpmPin>, Vec<RpmRepoPin>), ResolveError> {
    let mut pins: Vec<RpmPin> = Vec::new();
    let mut repos: BTreeMap<String, RpmRepoPin> = BTreeMap::new();
    // Every repository of every entry, once: dnf solves over all enabled repositories, so an
    // entry's packages may need what another entry's repository has (AppStream's
    // container-selinux needs BaseOS's selinux-policy).
    let mut entries: Vec<(&RpmSpec, Vec<usize>)> = Vec::new();
    let mut sources: Vec<Source> = Vec::new();
    for spec in release.spec.packages.iter().flat_map(|p| &p.rpm) {
        let mut own = Vec::new();
        for source in sources_of(spec, http, &release.dir, yum_repos, reporter).await? {
            let index = match sources
                .iter()
                .position(|s| s.name == source.name && s.baseurl == source.baseurl)
            {
                Some(index) => index,
                None => {
                    sources.push(source);
                    sources.len() - 1
                }
            };
            own.push(index);
        }
        entries.push((spec, own));
    }
    // Every repository read once per architecture, when an entry first needs it.
    let mut per_arch: BTreeMap<String, Vec<Loaded>> = BTreeMap::new();
    for (spec, _) in &entries {
        for arch in arches_of(spec, release) {
            if !per_arch.contains_key(&arch) {
                let mut loaded = Vec::new();
                for (index, source) in sources.iter().enumerate() {
                    loaded.push(load(http, store, source, index, &arch, &mut repos).await?);
                }
                per_arch.insert(arch.clone(), loaded);
            }
            let Some(loaded) = per_arch.get_mut(&arch) else {
                continue;
            };
            let request = Request {
                packages: spec.packages.clone(),
                weakdeps: spec.weakdeps,
                assume_installed: spec.assume_installed.clone(),
            };
            let (universe, origin, chosen) = match solve(loaded, &arch, &request) {
                Err(e) if e.is_file() => {
                    let specs: Vec<&RpmSpec> = entries.iter().map(|(spec, _)| *spec).collect();
                    let wanted = wanted_files(loaded, &specs);
                    for repo in loaded.iter_mut() {
                        add_filelists(http, store, repo, &wanted).await?;
                    }
                    solve(loaded, &arch, &request)
                }
                other => other,
            }
            .map_err(|closure| ResolveError::RpmClosure {
                repo: sources
                    .iter()
                    .map(|s| s.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                arch: arch.clone(),
                closure: Box::new(closure),
            })?;
            for pick in chosen {
                let package = universe.package(pick.index);
                let repo = &loaded[origin[pick.index]];
                let source = &sources[repo.source];
                let mut pin = pin(package, repo, source, pick.why)?;
                if source.gpgcheck {
                    let keys = Keyring::from_bytes(&source.name, source.keys.join("\n").as_bytes())
                        .map_err(|e| repo_error(&pin.url, e))?;
                    signature::check(http, &keys, &mut pin).await?;
                }
                pins.push(pin);
            }
        }
    }
    // The parsed metadata (every package of every repository) is freed on a thread of its
    // own: nothing below needs it, and freeing tens of thousands of packages is work the
    // lockfile need not wait for (a process that exits first leaves it to the kernel).
    let _ = std::thread::Builder::new()
        .name("rpm-metadata-drop".into())
        .spawn(move || drop(per_arch));
    pins.sort_by(|a, b| (&a.repo, &a.path).cmp(&(&b.repo, &b.path)));
    pins.dedup_by(|a, b| a.repo == b.repo && a.path == b.path);
    // Only the repositories something was pinned from travel.
    repos.retain(|name, _| pins.iter().any(|p| &p.repo == name));
    Ok((pins, repos.into_values().collect()))
}

/// Reads repository `source` (index `index`) for `arch`: its signed repomd.xml and
/// primary.xml, recording its URL in `repos`.
async fn load(
    http: &Http,
    store: &Store,
    source: &Source,
    index: usize,
    arch: &str,
    repos: &mut BTreeMap<String, RpmRepoPin>,
) -> Result<Loaded, ResolveError> {
    let url = expand(&source.baseurl, arch, source.releasever.as_deref())?;
    let keyring = match (source.repo_gpgcheck, source.keys.is_empty()) {
        (false, _) => None,
        (true, true) => {
            return Err(repo_error(
                &url,
                "repo_gpgcheck is on but the repository has no gpgkey",
            ))
        }
        (true, false) => Some(
            Keyring::from_bytes(&source.name, source.keys.join("\n").as_bytes())
                .map_err(|e| repo_error(&url, e))?,
        ),
    };
    let repomd = read_repomd(http, &url, keyring.as_ref()).await?;
    let primary = repomd.get("primary").ok_or_else(|| {
        repo_error(
            &join(&url, "repodata/repomd.xml"),
            "it lists no primary metadata",
        )
    })?;
    let compressed = read_data(http, store, &url, primary).await?;
    let parsed = parse_data(&url, primary, &compressed, |xml| {
        crate::rpm::primary::parse(xml)
    })?;
    drop(compressed);
    let repo = repos
        .entry(source.name.clone())
        .or_insert_with(|| RpmRepoPin {
            name: source.name.clone(),
            sources: Vec::new(),
            keys: source.keys.clone(),
            gpgcheck: source.gpgcheck,
        });
    if !repo.sources.contains(&url) {
        repo.sources.push(url.clone());
    }
    Ok(Loaded {
        source: index,
        url,
        repomd,
        packages: parsed.packages,
    })
}

type Solved = (Universe, Vec<usize>, Vec<crate::rpm::closure::Chosen>);

/// The closure over every loaded repository of one architecture; `origin[i]` is the
/// index in `loaded` of universe package `i`.
fn solve(
    loaded: &[Loaded],
    arch: &str,
    request: &Request,
) -> Result<Solved, crate::rpm::closure::ClosureError> {
    let mut packages = Vec::new();
    let mut origin = Vec::new();
    for (i, repo) in loaded.iter().enumerate() {
        for package in repo
            .packages
            .iter()
            .filter(|p| p.arch == arch || p.arch == "noarch")
        {
            packages.push(package.clone());
            origin.push(i);
        }
    }
    let universe = Universe::shared(packages, arch);
    let chosen = closure(&universe, request)?;
    Ok((universe, origin, chosen))
}

/// The file paths a closure may look up beyond primary.xml: every path a package of
/// `loaded` requires, conflicts with, recommends or supplements (inside rich dependencies
/// too) and every path word of the requests and `assume-installed` of `specs`.
fn wanted_files(loaded: &[Loaded], specs: &[&RpmSpec]) -> HashSet<String> {
    fn walk(req: &Req, wanted: &mut HashSet<String>) {
        match req {
            Req::Simple(dep) => {
                if dep.name.starts_with('/') && !wanted.contains(&dep.name) {
                    wanted.insert(dep.name.clone());
                }
            }
            Req::And(items) | Req::Or(items) | Req::With(items) => {
                items.iter().for_each(|item| walk(item, wanted))
            }
            Req::If(a, b, c) | Req::Unless(a, b, c) => {
                walk(a, wanted);
                walk(b, wanted);
                if let Some(c) = c {
                    walk(c, wanted);
                }
            }
            Req::Without(a, b) => {
                walk(a, wanted);
                walk(b, wanted);
            }
        }
    }
    let mut wanted = HashSet::new();
    for package in loaded.iter().flat_map(|repo| &repo.packages) {
        for req in package
            .requires
            .iter()
            .chain(&package.conflicts)
            .chain(&package.recommends)
            .chain(&package.supplements)
        {
            walk(req, &mut wanted);
        }
    }
    for spec in specs {
        for text in spec.packages.iter().chain(&spec.assume_installed) {
            wanted.extend(
                text.split_whitespace()
                    .filter(|word| word.starts_with('/'))
                    .map(str::to_string),
            );
        }
    }
    wanted
}

/// Adds filelists.xml's files to a repository's packages (matched by pkgid): those of
/// `wanted` (see [`wanted_files`]), the only ones a closure looks up.
async fn add_filelists(
    http: &Http,
    store: &Store,
    repo: &mut Loaded,
    wanted: &HashSet<String>,
) -> Result<(), ResolveError> {
    let Some(data) = repo.repomd.get("filelists").cloned() else {
        return Ok(());
    };
    let compressed = read_data(http, store, &repo.url, &data).await?;
    let mut files = parse_data(&repo.url, &data, &compressed, |xml| {
        crate::rpm::filelists::parse_wanted(xml, |file| wanted.contains(file))
    })?;
    for package in &mut repo.packages {
        if files.is_empty() {
            break;
        }
        if let Some(list) = package.checksum.as_ref().and_then(|c| files.remove(&c.hex)) {
            Arc::make_mut(package).files = list;
        }
    }
    Ok(())
}

fn pin(
    package: &Package,
    repo: &Loaded,
    source: &Source,
    why: String,
) -> Result<RpmPin, ResolveError> {
    let url = join(&repo.url, &package.location);
    let sha256 = match &package.checksum {
        Some(c) if c.kind == "sha256" => Digest::from_hex(&c.hex).map_err(|e| repo_error(&url, e))?,
        Some(c) => return Err(repo_error(&url, format!("primary.xml gives a {} checksum; outpost pins packages by sha256 (rebuild the repository's metadata with `createrepo_c --checksum sha256`)", c.kind))),
        None => return Err(repo_error(&url, "primary.xml gives no checksum for it")),
    };
    if package.location.contains("..")
        || package.location.starts_with('/')
        || package.location.contains("://")
    {
        return Err(repo_error(&url, "its location leaves the repository"));
    }
    Ok(RpmPin {
        name: package.name.clone(),
        epoch: package.evr.epoch,
        version: package.evr.version.clone(),
        release: package.evr.release.clone().unwrap_or_default(),
        arch: package.arch.clone(),
        repo: source.name.clone(),
        path: package.location.clone(),
        url,
        sha256,
        size: package.size,
        source: repo.url.clone(),
        why,
        signer: String::new(),
        gpgcheck: source.gpgcheck,
        header_end: package.header_end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseurl_variables_expand() {
        assert_eq!(
            expand(
                "https://m.test/$releasever/os/$basearch/",
                "aarch64",
                Some("9")
            )
            .unwrap(),
            "https://m.test/9/os/aarch64/"
        );
        assert!(expand("https://m.test/$releasever/", "x86_64", None).is_err());
    }
}
