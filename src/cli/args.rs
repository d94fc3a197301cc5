//! Command-line arguments. Data only: no I/O happens here.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

mod audit;
mod config;
mod parts;
mod release;
mod serve;
pub use audit::{AuditLogArgs, ReportCommand, ReportVerifyArgs, StoreReportArgs};
pub use config::DnfArgs;
pub use parts::{JoinArgs, ParityArgs, RepairArgs};
pub use release::{DiffArgs, SbomArgs, SbomFormat};
pub use serve::{ServeArgs, TlsMode};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  failure (I/O, disk full, a port in use)
  2  bad input: arguments, manifest, lockfile (stale or malformed), key or password, a platform
     an image lacks; a Debian package no source has, an unsatisfiable dependency (with the
     chain that led to it) or a conflict; no apt source configured, a missing keyring
  3  a bundle, a site store or a site receipt failed verification (tampered, truncated, wrong
     key, missing part);
     `config check`: a node's configuration would pull past the mirrors
  4  an upstream failed or sent bad content: a registry, a file host, or a Debian archive
     (HTTP error, a signature that does not verify, a Packages index that does not match
     its Release, an expired Release, a binary Release.gpg, an apt source that could not
     be used while the packages need it)
Environment: OUTPOST_KEY_PASSWORD (private key password), OUTPOST_CACHE (cache directory),
OUTPOST_APT_ETC (the host's apt configuration, default /etc/apt), OUTPOST_YUM_REPOS_DIR
(the host's dnf repositories, default /etc/yum.repos.d), RUST_LOG (log filter, e.g.
outpost=debug).";

/// Carry a Kubernetes release into sites with no internet.
///
/// At HQ: `outpost key generate`, then `outpost bundle build manifests/NAME.yaml` pins every
/// image into manifests/NAME.lock and writes a signed bundles/NAME-VERSION.tar (`--split-size`
/// for USB parts, `--base` for a delta). At the site: `outpost bundle verify` proves nothing
/// changed on the way; `outpost serve` replays the bundle as the site's registry, mirror and
/// apt repository, `outpost load --store` keeps releases in a store, `outpost push` copies
/// them into a registry the site already runs.
#[derive(Debug, Parser)]
#[command(name = "outpost", version, about, long_about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Resolve a release manifest into its lockfile (NAME.lock beside it) without building.
    Lock(LockArgs),
    /// Build, verify and inspect bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Verify a bundle and import it into a persistent site store (crash-safe; deltas apply
    /// on top of their base).
    Load(LoadArgs),
    /// Manage a site store: list releases, prune old ones, check every blob, write the signed
    /// receipt for HQ.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Copy a bundle's images (and its files, as OCI artifacts) into an existing registry.
    Push(PushArgs),
    /// Authentication helpers for `serve --auth`.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Serve bundles in place (and/or a site store) as a read-only OCI registry, a /files
    /// mirror, /apt repositories and /charts Helm chart repositories (with /healthz and
    /// /metrics).
    Serve(ServeArgs),
    /// Print or write node configuration that points nodes at the mirror.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check a site's signed receipt (`outpost store report`) at HQ.
    #[command(subcommand)]
    Report(ReportCommand),
}

/// `--key`: the public key a bundle must be signed with.
#[derive(Debug, Args)]
pub struct PublicKeyArgs {
    /// Public key the bundle must be signed with.
    #[arg(long, default_value = "keys/outpost.pub")]
    pub key: PathBuf,
}

/// `--json`: print the result for scripts.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The bundle a command reads, as its first argument.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The bundle: NAME.tar, NAME.parts.json or any part.
    pub bundle: PathBuf,
}

/// `--bundle`: the one bundle a `config` command describes.
#[derive(Debug, Args)]
pub struct ConfigBundleArgs {
    /// The bundle to configure nodes for (NAME.tar, NAME.parts.json or any part).
    #[arg(long)]
    pub bundle: PathBuf,
}

/// `--mirror`: the mirror's URL as nodes reach it.
#[derive(Debug, Args)]
pub struct MirrorArgs {
    /// The mirror's URL as nodes reach it (http://host:port or https://host:port).
    #[arg(long)]
    pub mirror: String,
}

/// `--mirror` (repeatable): every mirror, in the order nodes try them.
#[derive(Debug, Args)]
pub struct MirrorsArgs {
    /// A mirror's URL as nodes reach it (http://host:port or https://host:port). Repeat it
    /// for several mirrors serving the same bundles: nodes try them in the order given.
    #[arg(long = "mirror", value_name = "URL", required = true)]
    pub mirrors: Vec<String>,
}

/// What every runtime's `config` command takes: the bundles, the mirrors and where to write.
#[derive(Debug, Args)]
pub struct RuntimeArgs {
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub mirrors: MirrorsArgs,
    /// Bundles whose registries to configure (repeatable).
    #[arg(long = "bundle", value_name = "BUNDLE", required = true)]
    pub bundles: Vec<PathBuf>,
    /// Directory to write the files into, laid out as a node's root (DIR/etc/…); without
    /// it they are printed.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `config k3s` / `config rke2`.
#[derive(Debug, Args)]
pub struct RancherArgs {
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// CA certificate that signs the mirrors' certificates, as a path on the nodes
    /// (`configs.<mirror host>.tls.ca_file`).
    #[arg(long, value_name = "PATH")]
    pub ca: Option<String>,
}

/// `config crio|podman|talos|docker`: the CA is read where the command runs.
#[derive(Debug, Args)]
pub struct CaFileArgs {
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// CA certificate (PEM) that signs the mirrors' certificates, read here: copied to the
    /// runtime's certs.d directory for every https mirror (under --out), or embedded (Talos).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub bundle: BundleArgs,
    /// The site store directory (created if missing).
    #[arg(long)]
    pub store: PathBuf,
    #[command(flatten)]
    pub key: PublicKeyArgs,
    /// Check the signature, then print the blobs and bytes the store lacks and the space
    /// needed and free there; store nothing. A real load checks the same space first.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub json: JsonArgs,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub bundle: BundleArgs,
    /// Target registry: host[:port] (e.g. harbor.site.local or 10.0.0.5:5000).
    #[arg(long)]
    pub to: String,
    /// Repository path prefix under which upstream paths are kept (e.g. `mirror`).
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Credentials as user:password [default: from the Docker config for the target host].
    #[arg(long, env = "OUTPOST_PUSH_CREDS", hide_env_values = true)]
    pub creds: Option<String>,
    /// Talk plain HTTP to the target (a registry without TLS).
    #[arg(long)]
    pub plain_http: bool,
    /// Blob uploads at once.
    #[arg(long, default_value_t = 8)]
    pub jobs: usize,
    #[command(flatten)]
    pub key: PublicKeyArgs,
    #[command(flatten)]
    pub json: JsonArgs,
}

/// The store a `store` command works on, and its output form.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The site store directory.
    #[arg(long)]
    pub store: PathBuf,
    #[command(flatten)]
    pub json: JsonArgs,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// List the releases in the store, oldest load first.
    List(StoreArgs),
    /// Keep the N most recently loaded releases; remove the rest and every blob no kept
    /// release references.
    Prune {
        #[command(flatten)]
        target: StoreArgs,
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        keep: u64,
    },
    /// Check every release's signature and hash every blob they reference (the result and
    /// time are recorded in the store for `store report`).
    Verify {
        #[command(flatten)]
        target: StoreArgs,
        #[command(flatten)]
        key: PublicKeyArgs,
    },
    /// Write a signed receipt for HQ: every release (index digest, signer, load time), the
    /// last `store verify`, and pull counts from the audit logs (report.json and
    /// report.json.sig, cosign-compatible).
    ///
    /// The key password comes from OUTPOST_KEY_PASSWORD, or is asked for on the terminal.
    Report(StoreReportArgs),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// containerd: write certs.d/<registry>/hosts.toml for every registry in the bundles,
    /// listing every --mirror in order.
    Containerd(ContainerdArgs),
    /// k3s: /etc/rancher/k3s/registries.yaml mirroring every registry in the bundles to
    /// every --mirror, and the config.yaml line that switches the default endpoint off.
    K3s(RancherArgs),
    /// RKE2: /etc/rancher/rke2/registries.yaml (as for k3s), and the config.yaml line.
    ///
    /// RKE2 starts its own runtime and system images before containerd reads this file:
    /// air-gapped nodes also need the release's airgap images tarball.
    Rke2(RancherArgs),
    /// CRI-O: a registries.conf drop-in (/etc/containers/registries.conf.d/50-outpost.conf)
    /// with every --mirror for every registry in the bundles, and the certs.d CA files.
    Crio(CaFileArgs),
    /// podman: /etc/containers/registries.conf with every --mirror for every registry in the
    /// bundles, and the certs.d CA files.
    Podman(CaFileArgs),
    /// Talos: a machine-config patch (machine.registries) with every --mirror for every
    /// registry in the bundles, skipFallback, and the CA.
    Talos(CaFileArgs),
    /// Docker: /etc/docker/daemon.json registry-mirrors. Docker mirrors Docker Hub only:
    /// other registries' images are pulled by their site name.
    Docker(CaFileArgs),
    /// kubeadm: a ClusterConfiguration with imageRepository and the pinned kubernetesVersion.
    Kubeadm(KubeadmArgs),
    /// kubespray: offline variables (files_repo, dl_k8s_io_url, kube_image_repo, …).
    Kubespray(KubesprayArgs),
    /// apt: a deb822 sources entry for the bundle's repository, and its key file.
    Apt(AptArgs),
    /// dnf/yum: a `.repo` file for the bundle's RPM repositories (baseurl
    /// <mirror>/rpm/<repo>/, gpgcheck=1, repo_gpgcheck=1) and their keys.
    ///
    /// Writes into --out the keys taken from the bundle (the packagers' RPM-GPG-KEY-<FPR>
    /// files, which check each package's header signature, and RPM-GPG-KEY-outpost-<repo>,
    /// the bundle's key, which checks repomd.xml.asc) and outpost-<release>.repo, whose
    /// gpgkey= names them in --key-dir; prints the .repo file too. Copy the keys to
    /// --key-dir and the .repo file to /etc/yum.repos.d/ on every node.
    Dnf(DnfArgs),
    /// helm: `helm repo add` / `helm pull` lines, Argo CD repository Secrets and Flux
    /// HelmRepository objects for the bundle's charts.
    ///
    /// A chart from a classic chart repository is served as <mirror>/charts/<repository>
    /// (index.yaml and the .tgz files); a chart from an OCI registry under /v2/ at its
    /// upstream path (oci://<mirror host>/<registry>/<path>). Prints to stdout.
    Helm(HelmArgs),
    /// Check a node's runtime configuration: does every pull of every registry the bundles
    /// hold go to a mirror only?
    ///
    /// Reads, under NODE_ROOT (the node's `/`, or a copy of its files), whichever of these
    /// is present: etc/containerd/certs.d/*/hosts.toml, etc/rancher/{k3s,rke2}/registries.yaml
    /// (and config.yaml), etc/containers/registries.conf (and registries.conf.d), and
    /// etc/docker/daemon.json; with --talos, a Talos machine config too. Prints a table of
    /// runtime × registry: OK, UNMIRRORED (pulls go to the registry itself), FALLBACK (the
    /// registry itself is tried after the mirrors) or NO CA (a TLS mirror without its CA),
    /// with the file and key at fault.
    ///
    /// Exits 0 when every pull stays on the mirrors, 3 (verification failed) when a node
    /// with this configuration would reach past them, 2 when NODE_ROOT holds no runtime
    /// configuration at all.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Bundles whose registries to check (repeatable).
    #[arg(long = "bundle", value_name = "BUNDLE", required = true)]
    pub bundles: Vec<PathBuf>,
    /// The mirrors nodes may pull from, as nodes reach them (repeatable) [default: any host
    /// that is not the upstream registry itself].
    #[arg(long = "mirror", value_name = "URL")]
    pub mirrors: Vec<String>,
    /// A Talos machine configuration or patch to check too.
    #[arg(long, value_name = "FILE")]
    pub talos: Option<PathBuf>,
    #[command(flatten)]
    pub json: JsonArgs,
    /// The node's root directory: `/` on the node, or a directory holding a copy of its etc/.
    pub node_root: PathBuf,
}

/// Which key a bundle read by a `config` command must be signed with.
#[derive(Debug, Args)]
pub struct TrustArgs {
    #[command(flatten)]
    pub key: PublicKeyArgs,
    /// Read the bundle without checking its signature (DANGEROUS).
    #[arg(long)]
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Args)]
pub struct AptArgs {
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub mirror: MirrorArgs,
    #[command(flatten)]
    pub bundle: ConfigBundleArgs,
    /// Directory to write the repository key (outpost-<repo>.gpg) into.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Where the key will be on the nodes (the `Signed-By` directory).
    #[arg(long, default_value = "/etc/apt/keyrings")]
    pub key_dir: String,
}

#[derive(Debug, Args)]
pub struct HelmArgs {
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub mirror: MirrorArgs,
    #[command(flatten)]
    pub bundle: ConfigBundleArgs,
    /// CA certificate that signs the mirror's certificate (its path where helm runs): added
    /// as --ca-file, and named for Argo CD and Flux.
    #[arg(long)]
    pub ca: Option<String>,
}

#[derive(Debug, Args)]
pub struct KubeadmArgs {
    #[command(flatten)]
    pub trust: TrustArgs,
    /// The registry as nodes reach it: host:port (no scheme).
    #[arg(long)]
    pub mirror: String,
    #[command(flatten)]
    pub bundle: ConfigBundleArgs,
}

#[derive(Debug, Args)]
pub struct KubesprayArgs {
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub mirror: MirrorArgs,
    #[command(flatten)]
    pub bundle: ConfigBundleArgs,
    /// The kubespray release the variables are for (2.24 or later): 2.24 to 2.27 write some
    /// versions with a leading `v`, 2.28 and later none.
    #[arg(long, default_value = "2.28")]
    pub kubespray_version: String,
}

#[derive(Debug, Args)]
pub struct ContainerdArgs {
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub mirrors: MirrorsArgs,
    /// CA certificate nodes use to trust the mirrors (its path on the nodes); set on every
    /// mirror entry, the `server` fallback included.
    #[arg(long)]
    pub ca: Option<String>,
    /// Let containerd fall back to the real registries when the mirror lacks an image (by
    /// default the fallback is the first mirror: nodes never reach the internet).
    #[arg(long)]
    pub allow_upstream: bool,
    /// Bundles whose registries to configure (repeatable).
    #[arg(long = "bundle", required = true)]
    pub bundles: Vec<PathBuf>,
    /// Directory to write <registry>/hosts.toml into (copy it to /etc/containerd/certs.d).
    #[arg(long, default_value = "certs.d")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a cosign-compatible ECDSA P-256 key pair: outpost.key (encrypted) and outpost.pub.
    ///
    /// The password comes from OUTPOST_KEY_PASSWORD, or is asked for on the terminal.
    Generate {
        /// Directory to write outpost.key and outpost.pub into.
        #[arg(long, default_value = "keys")]
        out: PathBuf,
        /// Make the site's key instead (site.key and site.pub), which signs `store report`
        /// receipts; HQ keeps site.pub.
        #[arg(long)]
        site: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Print an argon2id hash (PHC string) of a password, for a user's `password:` in the
    /// auth file. The password is read from standard input (one line), or asked for twice
    /// on the terminal.
    Hash,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Content-addressed cache of downloaded blobs [default: ~/.cache/outpost].
    #[arg(long, env = "OUTPOST_CACHE")]
    pub cache: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The release manifest (YAML).
    pub manifest: PathBuf,
    /// Validate the manifest and print the URLs and images it would fetch; no network.
    #[arg(long)]
    pub dry_run: bool,
    /// Sigstore trusted root (`trusted_root.json`) that keyless file signatures are checked
    /// against [default: the public-good root outpost ships].
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Move image pins to what their tags name upstream now: every image, or only those
    /// named (as in the manifest, or `registry/repository`). Without it, a lock keeps the
    /// previous lockfile's pins and says which tags moved.
    #[arg(long, value_name = "IMAGE", num_args = 0.., conflicts_with = "dry_run")]
    pub update: Option<Vec<String>>,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub json: JsonArgs,
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Lock (unless --locked), fetch into the cache, and write a signed bundle.
    Build(BuildArgs),
    /// Check a bundle's signature and every blob's digest in one sequential read.
    Verify(VerifyArgs),
    /// Show what a bundle holds: images, platforms, sizes, signer. Does not verify.
    Inspect(InspectArgs),
    /// Reassemble a split bundle (NAME.parts.json or any part) into one tar, checking each part.
    Join(JoinArgs),
    /// Add Reed-Solomon parity parts to a split bundle (NAME.parity.001, …): any P lost or
    /// damaged parts can then be rebuilt by `bundle repair`.
    Parity(ParityArgs),
    /// Rebuild lost or damaged parts of a split bundle in place from its parity parts, each
    /// checked against its sha256 before it replaces anything.
    Repair(RepairArgs),
    /// What changed between two releases: images, charts, files, Debian packages, and the
    /// bytes the new one adds. Exits 0 whether or not anything changed.
    Diff(DiffArgs),
    /// Write a bill of materials of everything a bundle carries (images, charts, files,
    /// Debian packages) from its lockfile, as CycloneDX 1.5 or SPDX 2.3 JSON. Does not verify.
    Sbom(SbomArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The release manifest (YAML).
    pub manifest: PathBuf,
    /// Private key to sign with.
    #[arg(long, default_value = "keys/outpost.key")]
    pub key: PathBuf,
    /// Directory for the bundle (written as NAME-VERSION.tar).
    #[arg(long, default_value = "bundles")]
    pub out: PathBuf,
    /// Use the existing lockfile as it is; fail if it is missing or stale.
    #[arg(long)]
    pub locked: bool,
    /// Cut the bundle into parts of at most SIZE (e.g. 4GiB, 700MB, `fat32` = 4 GiB - 1 byte):
    /// NAME.tar.001, NAME.tar.002, … and NAME.parts.json.
    #[arg(long, value_name = "SIZE", value_parser = parse_split_size)]
    pub split_size: Option<u64>,
    /// With --split-size: also write P Reed-Solomon parity parts (NAME.parity.001, …); any P
    /// lost or damaged parts can then be rebuilt with `bundle repair`.
    #[arg(long, value_name = "P", requires = "split_size", value_parser = clap::value_parser!(u8).range(1..))]
    pub parity: Option<u8>,
    /// Build a delta on top of an old release: leave out every blob it has. OLD is the old
    /// bundle (tar, parts list or part) or its lockfile (rebuilt from this cache and key).
    #[arg(long, value_name = "OLD")]
    pub base: Option<PathBuf>,
    /// Carry foreign (non-distributable) layers, e.g. Windows base layers: fetch each from the
    /// URL its descriptor lists, checked against its digest and size. Without it such an
    /// image is refused.
    #[arg(long)]
    pub allow_foreign_layers: bool,
    /// Sigstore trusted root (`trusted_root.json`) that keyless file signatures are checked
    /// against when locking [default: the public-good root outpost ships].
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Carry a CycloneDX 1.5 SBOM of the release in the bundle, under its signature (an
    /// artifact of type application/vnd.cyclonedx+json; time: SOURCE_DATE_EPOCH, else 1970).
    #[arg(long)]
    pub sbom: bool,
    /// Lock (unless --locked) and fetch the manifests only, then print the bytes to download
    /// (cache misses), the bundle's estimated size and parts, and the space needed and free
    /// at --out and the cache; download no blob, write no bundle. A real build checks the same
    /// space first and stops before downloading when it would not fit.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub json: JsonArgs,
}

fn parse_split_size(text: &str) -> Result<u64, String> {
    outpost::bundle::parts::parse_size(text)
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub bundle: BundleArgs,
    #[command(flatten)]
    pub key: PublicKeyArgs,
    /// Also check every upstream signature the bundle carries (images' cosign signatures and
    /// attestations, files' Sigstore bundles and signatures) against the policies and the
    /// Sigstore trusted root recorded at lock; offline.
    #[arg(long)]
    pub upstream: bool,
    #[command(flatten)]
    pub json: JsonArgs,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub bundle: BundleArgs,
    #[command(flatten)]
    pub json: JsonArgs,
}
