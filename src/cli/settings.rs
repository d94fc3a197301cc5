//! Arguments resolved into per-command settings before any I/O: the cache directory
//! (`--cache`, `OUTPOST_CACHE`, XDG, `HOME`), where the key password comes from, the TLS mode,
//! push credentials, validated mirror URLs and the host's apt configuration directory. The
//! environment is read here and nowhere below; prompting, files and the network are the
//! commands' job. Commands whose arguments are only paths take their clap struct as it is.

mod dnf;
pub use dnf::DnfSettings;

use super::args::{
    AptArgs, BuildArgs, CacheArgs, CheckArgs, ContainerdArgs, HelmArgs, KubeadmArgs, KubesprayArgs,
    LockArgs, MirrorsArgs, PushArgs, RuntimeArgs, TrustArgs,
};
use outpost::fetch::ForeignLayers;
use outpost::nodeconfig::check::MirrorRule;
use outpost::nodeconfig::mirrors::Mirror;
use outpost::nodeconfig::{containerd, kubespray};
use outpost::push::PushSettings;
use outpost::resolve::{ResolveSettings, Update};

mod report;
mod serve;
pub use report::StoreReportSettings;
pub use serve::{ServeCommandSettings, TlsSettings};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The key password, when not prompted for.
pub const PASSWORD_ENV: &str = "OUTPOST_KEY_PASSWORD";
/// The host's apt configuration directory, when not `/etc/apt` (tests, chroots).
pub const APT_ETC_ENV: &str = "OUTPOST_APT_ETC";
/// The host's dnf repository directory, when not `/etc/yum.repos.d` (tests, chroots).
pub const YUM_REPOS_ENV: &str = "OUTPOST_YUM_REPOS_DIR";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("no cache directory: set --cache or OUTPOST_CACHE")]
    NoCacheDir,
    #[error("no key password: set {PASSWORD_ENV} (no terminal to ask on)")]
    NoPassword,
    #[error("reading the password: {0}")]
    PasswordRead(std::io::Error),
    #[error("the passwords differ")]
    PasswordsDiffer,
    #[error("--creds must be user:password")]
    BadCreds,
    /// `--mirror` is not `http(s)://host[:port]` (the message says what is wrong).
    #[error("{0}")]
    BadMirror(String),
    #[error("--mirror {0} is given twice: give each mirror once, in the order nodes try them")]
    MirrorTwice(String),
    #[error(
        "--mirror for kubeadm is host:port (it becomes the image repository), not a URL: `{0}`"
    )]
    RegistryIsUrl(String),
    #[error("--client-ca needs TLS: add --tls auto or --tls-cert/--tls-key")]
    ClientCaWithoutTls,
    #[error("--kubespray-version: {0}")]
    KubesprayRelease(kubespray::UnsupportedRelease),
}

/// What the process environment holds that settings depend on (read once, in `main`).
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub password: Option<OsString>,
    pub xdg_cache_home: Option<OsString>,
    pub home: Option<OsString>,
    pub apt_etc: Option<OsString>,
    pub yum_repos: Option<OsString>,
}

impl Environment {
    pub fn read() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Environment {
            password: std::env::var_os(PASSWORD_ENV),
            xdg_cache_home: var("XDG_CACHE_HOME"),
            home: std::env::var_os("HOME"),
            apt_etc: var(APT_ETC_ENV),
            yum_repos: var(YUM_REPOS_ENV),
        }
    }

    /// The cache directory: --cache / OUTPOST_CACHE, else $XDG_CACHE_HOME/outpost or
    /// ~/.cache/outpost.
    fn cache_dir(&self, args: &CacheArgs) -> Result<PathBuf, SettingsError> {
        if let Some(dir) = &args.cache {
            return Ok(dir.clone());
        }
        if let Some(xdg) = &self.xdg_cache_home {
            return Ok(PathBuf::from(xdg).join("outpost"));
        }
        match &self.home {
            Some(home) => Ok(PathBuf::from(home).join(".cache").join("outpost")),
            None => Err(SettingsError::NoCacheDir),
        }
    }

    fn resolve_settings(&self, trusted_root: Option<PathBuf>) -> ResolveSettings {
        ResolveSettings {
            trusted_root,
            etc_apt: self
                .apt_etc
                .as_ref()
                .map_or_else(|| PathBuf::from("/etc/apt"), PathBuf::from),
            yum_repos: self
                .yum_repos
                .as_ref()
                .map_or_else(|| PathBuf::from("/etc/yum.repos.d"), PathBuf::from),
        }
    }

    fn password(&self, confirm: bool) -> PasswordSource {
        match &self.password {
            Some(value) => PasswordSource::Given(value.clone().into_encoded_bytes()),
            None => PasswordSource::Prompt { confirm },
        }
    }
}

/// Where the private key's password comes from.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    /// From `OUTPOST_KEY_PASSWORD`.
    Given(Vec<u8>),
    /// Asked for on the terminal (twice when `confirm`).
    Prompt { confirm: bool },
}

impl PasswordSource {
    /// The password: as given, or prompted for (only when stdin is a terminal).
    pub fn read(&self) -> Result<Vec<u8>, SettingsError> {
        let confirm = match self {
            PasswordSource::Given(bytes) => return Ok(bytes.clone()),
            PasswordSource::Prompt { confirm } => *confirm,
        };
        if !std::io::stdin().is_terminal() {
            return Err(SettingsError::NoPassword);
        }
        let prompt =
            |text: &str| rpassword::prompt_password(text).map_err(SettingsError::PasswordRead);
        let first = prompt("Key password: ")?;
        if confirm && first != prompt("Repeat the password: ")? {
            return Err(SettingsError::PasswordsDiffer);
        }
        Ok(first.into_bytes())
    }
}

/// One `--mirror`.
fn mirror(text: &str) -> Result<Mirror, SettingsError> {
    Mirror::parse(text).map_err(SettingsError::BadMirror)
}

/// Every `--mirror`, in the order given, each once.
fn mirrors(args: &MirrorsArgs) -> Result<Vec<Mirror>, SettingsError> {
    let mut parsed: Vec<Mirror> = Vec::with_capacity(args.mirrors.len());
    for text in &args.mirrors {
        let next = mirror(text)?;
        if parsed.contains(&next) {
            return Err(SettingsError::MirrorTwice(next.url().to_string()));
        }
        parsed.push(next);
    }
    Ok(parsed)
}

/// Which key a bundle must be signed with; `None` skips the check (`--insecure-skip-verify`).
#[derive(Debug, Clone)]
pub struct Trust {
    pub key: Option<PathBuf>,
}

impl Trust {
    fn from_args(args: &TrustArgs) -> Self {
        Trust {
            key: (!args.insecure_skip_verify).then(|| args.key.key.clone()),
        }
    }
}

pub struct KeyGenerateSettings {
    pub out: PathBuf,
    pub password: PasswordSource,
    /// The site key (`site.key`, `site.pub`) instead of the bundle key.
    pub site: bool,
}

impl KeyGenerateSettings {
    pub fn resolve(out: &Path, site: bool, env: &Environment) -> Self {
        KeyGenerateSettings {
            out: out.to_path_buf(),
            password: env.password(true),
            site,
        }
    }
}

/// `lock`: resolve and write the lockfile, or only plan (`--dry-run`, no cache, no network).
pub struct LockSettings {
    pub manifest: PathBuf,
    pub json: bool,
    pub mode: LockMode,
}

pub enum LockMode {
    DryRun,
    Resolve {
        cache: PathBuf,
        resolve: ResolveSettings,
        /// Which pins of the previous lockfile move (`--update [IMAGE…]`).
        update: Update,
    },
}

impl LockSettings {
    pub fn resolve(args: &LockArgs, env: &Environment) -> Result<Self, SettingsError> {
        let mode = if args.dry_run {
            LockMode::DryRun
        } else {
            LockMode::Resolve {
                cache: env.cache_dir(&args.cache)?,
                resolve: env.resolve_settings(args.trusted_root.clone()),
                update: match &args.update {
                    None => Update::Nothing,
                    Some(names) if names.is_empty() => Update::All,
                    Some(names) => Update::Images(names.clone()),
                },
            }
        };
        Ok(LockSettings {
            manifest: args.manifest.clone(),
            json: args.json.json,
            mode,
        })
    }
}

pub struct BuildSettings {
    pub manifest: PathBuf,
    pub key: PathBuf,
    pub password: PasswordSource,
    pub out: PathBuf,
    pub locked: bool,
    pub split_size: Option<u64>,
    /// Parity parts to write with `split_size`.
    pub parity: Option<usize>,
    pub base: Option<PathBuf>,
    pub cache: PathBuf,
    pub resolve: ResolveSettings,
    /// Whether foreign layers are fetched from their URLs or refused.
    pub foreign_layers: ForeignLayers,
    /// Carry a CycloneDX SBOM in the bundle.
    pub sbom: bool,
    /// Only estimate: download no blob, write no bundle.
    pub dry_run: bool,
    pub json: bool,
}

impl BuildSettings {
    pub fn resolve(args: &BuildArgs, env: &Environment) -> Result<Self, SettingsError> {
        Ok(BuildSettings {
            manifest: args.manifest.clone(),
            key: args.key.clone(),
            password: env.password(false),
            out: args.out.clone(),
            locked: args.locked,
            split_size: args.split_size,
            parity: args.parity.map(usize::from),
            sbom: args.sbom,
            dry_run: args.dry_run,
            base: args.base.clone(),
            cache: env.cache_dir(&args.cache)?,
            resolve: env.resolve_settings(args.trusted_root.clone()),
            foreign_layers: if args.allow_foreign_layers {
                ForeignLayers::FetchFromUrl
            } else {
                ForeignLayers::Refuse
            },
            json: args.json.json,
        })
    }
}

pub struct PushCommandSettings {
    pub bundle: PathBuf,
    pub key: PathBuf,
    pub json: bool,
    pub push: PushSettings,
}

impl PushCommandSettings {
    pub fn resolve(args: &PushArgs) -> Result<Self, SettingsError> {
        let auth = match &args.creds {
            None => None,
            Some(creds) => {
                let (user, password) = creds.split_once(':').ok_or(SettingsError::BadCreds)?;
                Some(oci_client::secrets::RegistryAuth::Basic(
                    user.to_string(),
                    password.to_string(),
                ))
            }
        };
        Ok(PushCommandSettings {
            bundle: args.bundle.bundle.clone(),
            key: args.key.key.clone(),
            json: args.json.json,
            push: PushSettings {
                registry: args.to.trim_end_matches('/').to_string(),
                prefix: args.prefix.clone(),
                plain_http: args.plain_http,
                auth,
                jobs: args.jobs,
            },
        })
    }
}

pub struct ContainerdSettings {
    pub trust: Trust,
    /// In the order nodes try them.
    pub mirrors: Vec<Mirror>,
    pub ca: Option<String>,
    pub fallback: containerd::Fallback,
    pub bundles: Vec<PathBuf>,
    pub out: PathBuf,
}

impl ContainerdSettings {
    pub fn resolve(args: &ContainerdArgs) -> Result<Self, SettingsError> {
        Ok(ContainerdSettings {
            trust: Trust::from_args(&args.trust),
            mirrors: mirrors(&args.mirrors)?,
            ca: args.ca.clone(),
            fallback: if args.allow_upstream {
                containerd::Fallback::Upstream
            } else {
                containerd::Fallback::Mirror
            },
            bundles: args.bundles.clone(),
            out: args.out.clone(),
        })
    }
}

/// A runtime's `config` command (k3s, rke2, crio, podman, talos, docker): what
/// `SiteMirrors` is built from, and where the files go.
pub struct RuntimeSettings {
    pub trust: Trust,
    /// In the order nodes try them.
    pub mirrors: Vec<Mirror>,
    pub bundles: Vec<PathBuf>,
    /// The CA: a path on the nodes (k3s, rke2) or a file read here (the others).
    pub ca: Option<PathBuf>,
    /// A node-root directory to write into; `None` prints.
    pub out: Option<PathBuf>,
}

impl RuntimeSettings {
    pub fn resolve(args: &RuntimeArgs, ca: Option<PathBuf>) -> Result<Self, SettingsError> {
        Ok(RuntimeSettings {
            trust: Trust::from_args(&args.trust),
            mirrors: mirrors(&args.mirrors)?,
            bundles: args.bundles.clone(),
            ca,
            out: args.out.clone(),
        })
    }
}

/// `config check`: the bundles whose registries are checked, which hosts are mirrors, the
/// node's root and the Talos file.
pub struct CheckSettings {
    pub trust: Trust,
    pub bundles: Vec<PathBuf>,
    pub rule: MirrorRule,
    pub talos: Option<PathBuf>,
    pub json: bool,
    pub node_root: PathBuf,
}

impl CheckSettings {
    pub fn resolve(args: &CheckArgs) -> Result<Self, SettingsError> {
        let mirrors = mirrors(&MirrorsArgs {
            mirrors: args.mirrors.clone(),
        })?;
        Ok(CheckSettings {
            trust: Trust::from_args(&args.trust),
            bundles: args.bundles.clone(),
            rule: if mirrors.is_empty() {
                MirrorRule::NotUpstream
            } else {
                MirrorRule::Listed(mirrors)
            },
            talos: args.talos.clone(),
            json: args.json.json,
            node_root: args.node_root.clone(),
        })
    }
}

pub struct KubeadmSettings {
    pub trust: Trust,
    /// `host:port` of the registry as nodes reach it.
    pub registry: String,
    pub bundle: PathBuf,
}

impl KubeadmSettings {
    pub fn resolve(args: &KubeadmArgs) -> Result<Self, SettingsError> {
        if args.mirror.contains("://") {
            return Err(SettingsError::RegistryIsUrl(args.mirror.clone()));
        }
        Ok(KubeadmSettings {
            trust: Trust::from_args(&args.trust),
            registry: args.mirror.clone(),
            bundle: args.bundle.bundle.clone(),
        })
    }
}

pub struct KubespraySettings {
    pub trust: Trust,
    pub mirror: Mirror,
    pub bundle: PathBuf,
    pub format: kubespray::VersionFormat,
}

impl KubespraySettings {
    pub fn resolve(args: &KubesprayArgs) -> Result<Self, SettingsError> {
        Ok(KubespraySettings {
            trust: Trust::from_args(&args.trust),
            mirror: mirror(&args.mirror.mirror)?,
            bundle: args.bundle.bundle.clone(),
            format: kubespray::VersionFormat::of_release(&args.kubespray_version)
                .map_err(SettingsError::KubesprayRelease)?,
        })
    }
}

pub struct AptSettings {
    pub trust: Trust,
    pub mirror: Mirror,
    pub bundle: PathBuf,
    pub out: PathBuf,
    pub key_dir: String,
}

impl AptSettings {
    pub fn resolve(args: &AptArgs) -> Result<Self, SettingsError> {
        Ok(AptSettings {
            trust: Trust::from_args(&args.trust),
            mirror: mirror(&args.mirror.mirror)?,
            bundle: args.bundle.bundle.clone(),
            out: args.out.clone(),
            key_dir: args.key_dir.clone(),
        })
    }
}

pub struct HelmSettings {
    pub trust: Trust,
    pub mirror: Mirror,
    pub bundle: PathBuf,
    pub ca: Option<String>,
}

impl HelmSettings {
    pub fn resolve(args: &HelmArgs) -> Result<Self, SettingsError> {
        Ok(HelmSettings {
            trust: Trust::from_args(&args.trust),
            mirror: mirror(&args.mirror.mirror)?,
            bundle: args.bundle.bundle.clone(),
            ca: args.ca.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_keep_their_order_and_are_given_once() {
        let args = |list: &[&str]| MirrorsArgs {
            mirrors: list.iter().map(|s| s.to_string()).collect(),
        };
        let parsed = mirrors(&args(&["https://b.site:5000/", "http://a.site:5000"])).unwrap();
        let urls: Vec<&str> = parsed.iter().map(Mirror::url).collect();
        assert_eq!(urls, ["https://b.site:5000", "http://a.site:5000"]);
        assert!(matches!(
            mirrors(&args(&["https://b.site:5000", "https://b.site:5000/"])),
            Err(SettingsError::MirrorTwice(url)) if url == "https://b.site:5000"
        ));
        for bad in [
            "mirror.site:5000",
            "ftp://mirror.site",
            "https://",
            "http:///",
            "https://m/x",
        ] {
            assert!(
                matches!(mirror(bad), Err(SettingsError::BadMirror(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_cache_directory_follows_flag_then_xdg_then_home() {
        let flag = CacheArgs {
            cache: Some("/c".into()),
        };
        let none = CacheArgs { cache: None };
        let env = Environment {
            xdg_cache_home: Some("/x".into()),
            home: Some("/h".into()),
            ..Environment::default()
        };
        assert_eq!(env.cache_dir(&flag).unwrap(), PathBuf::from("/c"));
        assert_eq!(env.cache_dir(&none).unwrap(), PathBuf::from("/x/outpost"));
        let home_only = Environment {
            home: Some("/h".into()),
            ..Environment::default()
        };
        assert_eq!(
            home_only.cache_dir(&none).unwrap(),
            PathBuf::from("/h/.cache/outpost")
        );
        assert!(matches!(
            Environment::default().cache_dir(&none),
            Err(SettingsError::NoCacheDir)
        ));
    }

    #[test]
    fn the_apt_directory_comes_from_the_environment_or_etc_apt() {
        assert_eq!(
            Environment::default().resolve_settings(None).etc_apt,
            PathBuf::from("/etc/apt")
        );
        let env = Environment {
            apt_etc: Some("/tmp/apt".into()),
            ..Environment::default()
        };
        assert_eq!(
            env.resolve_settings(None).etc_apt,
            PathBuf::from("/tmp/apt")
        );
    }
}
