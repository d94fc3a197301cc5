//! Which files a release needs, as URLs with checksum sources: the Kubernetes binaries, the
//! component presets (`data/components.yaml`) and the manifest's own `files`, expanded per
//! platform. Pure: fetching and verifying is `resolve::files`.

use crate::checksum::{parse_hex, Expected};
use crate::manifest::{FileSpec, Release, SignatureSpec, VerifySpec};
use crate::platform::Platform;
use crate::trust::{Identity, Policy};
use serde::Deserialize;
use std::collections::BTreeMap;

const PRESETS: &str = include_str!("data/components.yaml");

/// A component preset: URL template and checksum source template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub url: String,
    pub checksum: String,
}

/// The compiled-in presets (checked by a unit test).
pub fn presets() -> BTreeMap<String, Preset> {
    serde_norway::from_str(PRESETS).unwrap_or_default()
}

/// Where a file's expected digest comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecksumSource {
    /// A checksum file to download (any upstream convention).
    Url(String),
    /// Written in the manifest.
    Inline(Expected),
    /// None: `insecure: true`.
    Insecure,
    /// None but the file's verified signature.
    Signature,
}

/// A file's signature to download and verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSignature {
    pub material: SignatureMaterial,
    pub verify: VerifySource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureMaterial {
    /// A Sigstore bundle.
    Bundle(String),
    /// A detached signature, and the signing certificate (keyless).
    Detached { sig: String, cert: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifySource {
    Policy(Policy),
    /// A PEM public key file, as written (relative to the manifest).
    KeyFile(String),
}

/// The Kubernetes release team's keyless identity and issuer (dl.k8s.io binaries).
pub const KUBERNETES_IDENTITY: &str = "krel-trust@k8s-releng-prod.iam.gserviceaccount.com";
pub const KUBERNETES_ISSUER: &str = "https://accounts.google.com";

/// One file to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// The real upstream URL.
    pub url: String,
    pub checksum: ChecksumSource,
    pub signature: Option<PlannedSignature>,
}

const PLACEHOLDERS: [&str; 4] = ["{version}", "{os}", "{arch}", "{url}"];

/// Checks a `files` entry without expanding it.
pub fn validate_file_spec(file: &FileSpec) -> Result<(), String> {
    if !(file.url.starts_with("https://") || file.url.starts_with("http://")) {
        return Err(format!("`{}` must be an http:// or https:// URL", file.url));
    }
    check_placeholders(&file.url, false)?;
    if file.url.contains("{version}") && file.version.is_none() {
        return Err(format!(
            "`{}` uses {{version}}: add `version:` to the entry",
            file.url
        ));
    }
    match (&file.checksum, file.insecure) {
        (None, false) => Err(format!(
            "`{}` has no checksum: add `checksum: {{url: …}}` or `checksum: {{sha256: …}}`, or `insecure: true` to pin whatever is downloaded",
            file.url
        )),
        (Some(_), true) => Err(format!("`{}`: `insecure: true` and a checksum exclude each other", file.url)),
        (None, true) => Ok(()),
        (Some(checksum), false) => {
            let given = [checksum.url.is_some(), checksum.sha256.is_some(), checksum.sha512.is_some()];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(format!("`{}`: give exactly one of checksum.url, checksum.sha256, checksum.sha512", file.url));
            }
            if let Some(url) = &checksum.url {
                check_placeholders(url, true)?;
            }
            for hex in [&checksum.sha256, &checksum.sha512].into_iter().flatten() {
                parse_hex(hex).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
    }
}

fn check_placeholders(template: &str, allow_url: bool) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..]
            .find('}')
            .map(|e| start + e + 1)
            .ok_or_else(|| format!("`{template}` has an unclosed `{{`"))?;
        let placeholder = &rest[start..end];
        if !PLACEHOLDERS.contains(&placeholder) || (placeholder == "{url}" && !allow_url) {
            return Err(format!("`{template}`: unknown placeholder {placeholder} (use {{version}}, {{os}}, {{arch}}{})", if allow_url { ", {url}" } else { "" }));
        }
        rest = &rest[end..];
    }
    Ok(())
}

/// Expands a template for one platform.
pub fn expand(template: &str, version: &str, platform: &Platform, url: &str) -> String {
    template
        .replace("{version}", version)
        .replace("{os}", &platform.os)
        .replace("{arch}", &platform.architecture)
        .replace("{url}", url)
}

/// The mirror path of a URL: `https://dl.k8s.io/release/…` → `dl.k8s.io/release/…`.
pub fn mirror_path(url: &str) -> String {
    url.split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(url)
        .to_string()
}

/// The last path component of a URL (what checksum files name).
pub fn file_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Files of the manifest's `components` and `files`, per platform (Kubernetes binaries are
/// added by the resolver once the version is known).
pub fn planned_files(release: &Release) -> Vec<PlannedFile> {
    let platforms = release.platforms();
    let presets = presets();
    let mut planned = Vec::new();
    for (name, version) in &release.spec.components {
        let Some(preset) = presets.get(name) else {
            continue;
        };
        let version = version.trim_start_matches('v');
        for platform in &platforms {
            let url = expand(&preset.url, version, platform, "");
            let checksum = ChecksumSource::Url(expand(&preset.checksum, version, platform, &url));
            planned.push(PlannedFile {
                url,
                checksum,
                signature: None,
            });
        }
    }
    for file in &release.spec.files {
        let version = file.version.as_deref().unwrap_or_default();
        let per_platform = ["{os}", "{arch}"].iter().any(|p| file.url.contains(p));
        let targets: Vec<&Platform> = if per_platform {
            platforms.iter().collect()
        } else {
            platforms.iter().take(1).collect()
        };
        for platform in targets {
            let url = expand(&file.url, version, platform, "");
            let checksum = match &file.checksum {
                _ if file.insecure => ChecksumSource::Insecure,
                Some(c) => match (&c.url, &c.sha256, &c.sha512) {
                    (Some(template), _, _) => {
                        ChecksumSource::Url(expand(template, version, platform, &url))
                    }
                    (None, Some(hex), _) | (None, None, Some(hex)) => match parse_hex(hex) {
                        Ok(expected) => ChecksumSource::Inline(expected),
                        Err(_) => ChecksumSource::Insecure,
                    },
                    (None, None, None) => ChecksumSource::Insecure,
                },
                None if file.signature.is_some() => ChecksumSource::Signature,
                None => ChecksumSource::Insecure,
            };
            let signature = match (&file.signature, &file.verify) {
                (Some(signature), Some(verify)) => {
                    planned_signature(signature, verify, version, platform, &url)
                }
                _ => None,
            };
            planned.push(PlannedFile {
                url,
                checksum,
                signature,
            });
        }
    }
    planned
}

/// A validated `signature`/`verify` pair, expanded for one file.
fn planned_signature(
    signature: &SignatureSpec,
    verify: &VerifySpec,
    version: &str,
    platform: &Platform,
    url: &str,
) -> Option<PlannedSignature> {
    let expand = |template: &String| expand(template, version, platform, url);
    let material = match (&signature.bundle, &signature.sig) {
        (Some(bundle), _) => SignatureMaterial::Bundle(expand(bundle)),
        (None, Some(sig)) => SignatureMaterial::Detached {
            sig: expand(sig),
            cert: signature.cert.as_ref().map(expand),
        },
        (None, None) => return None,
    };
    Some(PlannedSignature {
        material,
        verify: verify_source(verify)?,
    })
}

/// A validated `verify:` (of a file or of a `spec.verify` image policy) as a policy, or the
/// key file it names; `None` when it is not in one of its forms (validation refuses that).
pub fn verify_source(verify: &VerifySpec) -> Option<VerifySource> {
    Some(match (&verify.keyless, &verify.key) {
        (Some(keyless), _) => VerifySource::Policy(Policy::Keyless {
            issuer: keyless.issuer.clone(),
            identity: match (&keyless.identity, &keyless.identity_regexp) {
                (Some(exact), _) => Identity::Exact(exact.clone()),
                (None, Some(pattern)) => Identity::Regexp(pattern.clone()),
                (None, None) => return None,
            },
        }),
        (None, Some(key)) => VerifySource::KeyFile(key.clone()),
        (None, None) => return None,
    })
}

/// The Kubernetes binaries for an exact version, per platform, with dl.k8s.io's `.sha256`.
pub fn kubernetes_files(
    version: &str,
    binaries: &[String],
    platforms: &[Platform],
    verify: bool,
) -> Vec<PlannedFile> {
    let mut planned = Vec::new();
    for platform in platforms {
        for binary in binaries {
            let url = crate::kubernetes::binary_url(
                version,
                &platform.os,
                &platform.architecture,
                binary,
            );
            let signature = verify.then(|| PlannedSignature {
                material: SignatureMaterial::Detached {
                    sig: format!("{url}.sig"),
                    cert: Some(format!("{url}.cert")),
                },
                verify: VerifySource::Policy(Policy::Keyless {
                    issuer: KUBERNETES_ISSUER.into(),
                    identity: Identity::Exact(KUBERNETES_IDENTITY.into()),
                }),
            });
            planned.push(PlannedFile {
                checksum: ChecksumSource::Url(format!("{url}.sha256")),
                url,
                signature,
            });
        }
    }
    planned
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn presets_expand_to_the_real_upstream_layouts() {
        let text = "apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {name: k, version: \"1\"}\nspec:\n  platforms: [linux/amd64, linux/arm64]\n  components: {containerd: 1.7.22, runc: v1.1.14, cni-plugins: 1.5.1, crictl: 1.31.1, etcd: 3.5.15}\n";
        let release = Release::parse(Path::new("k.yaml"), text).unwrap();
        let urls: Vec<String> = planned_files(&release).into_iter().map(|p| p.url).collect();
        for expected in [
            "https://github.com/containerd/containerd/releases/download/v1.7.22/containerd-1.7.22-linux-amd64.tar.gz",
            "https://github.com/opencontainers/runc/releases/download/v1.1.14/runc.arm64",
            "https://github.com/containernetworking/plugins/releases/download/v1.5.1/cni-plugins-linux-amd64-v1.5.1.tgz",
            "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.31.1/crictl-v1.31.1-linux-arm64.tar.gz",
            "https://github.com/etcd-io/etcd/releases/download/v3.5.15/etcd-v3.5.15-linux-amd64.tar.gz",
        ] {
            assert!(urls.contains(&expected.to_string()), "{expected} not in {urls:#?}");
        }
        assert_eq!(urls.len(), 10);
        let planned = planned_files(&release);
        let containerd = planned
            .iter()
            .find(|p| p.url.contains("/containerd-"))
            .unwrap();
        assert_eq!(
            containerd.checksum,
            ChecksumSource::Url(format!("{}.sha256sum", containerd.url))
        );
    }

    #[test]
    fn file_specs_are_checked() {
        let spec =
            |url: &str, checksum: Option<crate::manifest::ChecksumSpec>, insecure: bool| FileSpec {
                signature: None,
                verify: None,
                url: url.into(),
                version: None,
                checksum,
                insecure,
            };
        let err = validate_file_spec(&spec("https://x.test/a", None, false)).unwrap_err();
        assert!(err.contains("has no checksum"), "{err}");
        assert!(validate_file_spec(&spec("https://x.test/a", None, true)).is_ok());
        let err = validate_file_spec(&spec("https://x.test/{version}/a", None, true)).unwrap_err();
        assert!(err.contains("add `version:`"), "{err}");
        let err = validate_file_spec(&spec("https://x.test/{flavour}", None, true)).unwrap_err();
        assert!(err.contains("unknown placeholder {flavour}"), "{err}");
        assert_eq!(
            mirror_path("https://dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubelet"),
            "dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubelet"
        );
        assert_eq!(file_name("https://a/b/runc.amd64"), "runc.amd64");
    }
}
