//! `spec.charts`: Helm charts to pin, from a classic chart repository (`repo` + `name`) or an
//! OCI registry (`oci://…`), each with a version constraint, the values used to find the
//! images it deploys, and what to add to or leave out of what is found. The model and its
//! check; resolving is `crate::resolve::charts`, discovery `crate::helm::discover`.

use serde::{Deserialize, Serialize};

/// One chart of `spec.charts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChartSpec {
    /// A classic chart repository's base URL (`https://charts.example.com/stable`): its
    /// `index.yaml` lists the versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The chart's name in `repo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An OCI chart reference without tag (`oci://registry.example.com/charts/cilium`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<String>,
    /// An exact version or a semver range as Helm reads it (`4.11.*`, `~1.2`, `>=1.0 <2`):
    /// the highest matching version wins.
    pub version: String,
    /// The name of the chart repository the site serves it in (`/charts/<repoName>/`);
    /// default: the last segment of `repo`'s path, else its host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_name: Option<String>,
    /// Values over the chart's `values.yaml`, used only to find images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<serde_json::Value>,
    /// Values files (relative to the manifest), applied in order before `values`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_files: Vec<String>,
    /// Which images of the chart travel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<ChartImages>,
    /// Check the chart's provenance file (`.prov`, Helm's OpenPGP signature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<ChartVerify>,
}

/// `images:` of a chart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartImages {
    /// Find the images the chart deploys (default true).
    #[serde(default = "yes")]
    pub discover: bool,
    /// Images to carry besides those found (what a template computes that outpost cannot).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    /// Reference globs of found images to leave out on purpose.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Default for ChartImages {
    fn default() -> Self {
        ChartImages {
            discover: true,
            add: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

/// `verify:` of a chart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartVerify {
    /// OpenPGP public keyring (binary or armored), relative to the manifest.
    pub keyring: String,
}

/// The site repository name a chart repository URL gets by default: the last segment of its
/// path, else its host (`https://charts.bitnami.com/bitnami` → `bitnami`).
pub fn default_repository_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.trim_end_matches('/');
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    path.rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or(host)
        .to_string()
}

/// Where a chart comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartSource<'a> {
    /// A classic chart repository: base URL and chart name.
    Repo { url: &'a str, name: &'a str },
    /// An OCI registry: the reference after `oci://`, without tag.
    Oci { reference: &'a str },
}

impl ChartSpec {
    /// The chart's source (checked at load: exactly one of `repo`+`name` and `oci`).
    pub fn source(&self) -> Option<ChartSource<'_>> {
        match (&self.repo, &self.name, &self.oci) {
            (Some(url), Some(name), None) => Some(ChartSource::Repo { url, name }),
            (None, _, Some(oci)) => Some(ChartSource::Oci {
                reference: oci.strip_prefix("oci://").unwrap_or(oci),
            }),
            _ => None,
        }
    }

    /// How the chart is named in messages: `NAME from REPO` or the `oci://` reference.
    pub fn label(&self) -> String {
        match self.source() {
            Some(ChartSource::Repo { url, name }) => format!("{name} from {url}"),
            Some(ChartSource::Oci { reference }) => format!("oci://{reference}"),
            None => self
                .name
                .clone()
                .or_else(|| self.oci.clone())
                .unwrap_or_else(|| "chart".into()),
        }
    }

    /// The site repository name: `repoName`, else the last path segment of `repo`, else its
    /// host (none for OCI charts).
    pub fn site_repository(&self) -> Option<String> {
        if let Some(name) = &self.repo_name {
            return Some(name.clone());
        }
        self.repo.as_deref().map(default_repository_name)
    }

    /// The `images:` settings (defaults when absent).
    pub fn images(&self) -> ChartImages {
        self.images.clone().unwrap_or_default()
    }

    /// What is wrong with this entry, if anything (the needle to locate, the message).
    pub(super) fn check(&self) -> Result<(), (String, String)> {
        let label = self.label();
        let needle = self
            .repo
            .clone()
            .or_else(|| self.oci.clone())
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| "charts".into());
        let fail = |message: String| Err((needle.clone(), format!("spec.charts: {message}")));
        match (&self.repo, &self.name, &self.oci) {
            (Some(_), Some(_), None) | (None, None, Some(_)) => {}
            (None, Some(name), Some(_)) => {
                return fail(format!(
                    "`{name}`: give `oci:` alone (the reference names the chart) or `repo:` with `name:`"
                ))
            }
            (Some(repo), None, _) => {
                return fail(format!("`{repo}`: a chart repository needs `name:` (the chart's name in its index.yaml)"))
            }
            (None, Some(name), None) => {
                return fail(format!("`{name}`: say where the chart comes from: `repo: URL` or `oci: oci://…`"))
            }
            _ => return fail(format!("{label}: give either `repo:` with `name:`, or `oci:`")),
        }
        if let Some(repo) = &self.repo {
            if !(repo.starts_with("https://") || repo.starts_with("http://")) {
                return fail(format!("`{repo}`: a chart repository is an http(s) URL (for an OCI registry use `oci: oci://…`)"));
            }
        }
        if let Some(oci) = &self.oci {
            let Some(reference) = oci.strip_prefix("oci://") else {
                return fail(format!(
                    "`{oci}`: an OCI chart is written `oci://REGISTRY/PATH/NAME`"
                ));
            };
            if reference.contains('@')
                || reference
                    .rsplit('/')
                    .next()
                    .is_some_and(|n| n.contains(':'))
            {
                return fail(format!(
                    "`{oci}`: give the version in `version:`, not as a tag or digest"
                ));
            }
            crate::reference::parse(&format!("{reference}:0"))
                .map_err(|m| (needle.clone(), format!("spec.charts: `{oci}`: {m}")))?;
        }
        if let Err(message) = crate::helm::version::Constraint::parse(&self.version) {
            return Err((
                self.version.clone(),
                format!(
                    "spec.charts: {label}: version `{}`: {message}",
                    self.version
                ),
            ));
        }
        if let Some(name) = self.site_repository() {
            let ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return fail(format!("{label}: repository name `{name}` may use only letters, digits, `.`, `_`, `-` (set `repoName:`)"));
            }
        }
        for glob in &self.images().exclude {
            glob::Pattern::new(glob).map_err(|e| {
                (
                    glob.clone(),
                    format!(
                        "spec.charts: {label}: images.exclude `{glob}` is not a valid glob: {e}"
                    ),
                )
            })?;
        }
        for image in &self.images().add {
            crate::reference::parse(image).map_err(|m| {
                (
                    image.clone(),
                    format!("spec.charts: {label}: images.add: {m}"),
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::tests::{parse, GOOD};

    fn with_charts(charts: &str) -> String {
        format!("{GOOD}  charts:\n{charts}")
    }

    fn error(charts: &str) -> String {
        parse(&with_charts(charts)).unwrap_err().to_string()
    }

    #[test]
    fn both_sources_parse_with_their_defaults() {
        let release = parse(&with_charts(
            "    - {repo: \"https://charts.example.com/stable/\", name: web, version: \"1.2.*\"}\n    - {oci: \"oci://registry.test/charts/cilium\", version: 1.16.1}\n",
        ))
        .unwrap();
        let [repo, oci] = release.spec.charts.as_slice() else {
            panic!("two charts")
        };
        assert_eq!(repo.site_repository().as_deref(), Some("stable"));
        assert!(repo.images().discover);
        assert_eq!(
            oci.source(),
            Some(super::ChartSource::Oci {
                reference: "registry.test/charts/cilium"
            })
        );
        assert_eq!(oci.site_repository(), None);
    }

    #[test]
    fn mistakes_are_named_where_they_are() {
        let e = error("    - {repo: \"https://charts.example.com/stable\", version: 1.0.0}\n");
        assert!(
            e.contains("m.yaml:11:15:") && e.contains("needs `name:`"),
            "{e}"
        );
        let e = error("    - {name: web, version: 1.0.0}\n");
        assert!(e.contains("say where the chart comes from"), "{e}");
        let e = error("    - {oci: \"registry.test/charts/x\", version: 1.0.0}\n");
        assert!(e.contains("oci://REGISTRY/PATH/NAME"), "{e}");
        let e = error("    - {oci: \"oci://registry.test/charts/x:1.0.0\", version: 1.0.0}\n");
        assert!(e.contains("give the version in `version:`"), "{e}");
        let e = error("    - {repo: \"https://c.test/x\", name: web, version: \">>1\"}\n");
        assert!(e.contains("version `>>1`"), "{e}");
        let e = error("    - {repo: \"https://c.test/x\", name: web, version: \"1\", images: {exclude: [\"[\"]}}\n");
        assert!(e.contains("images.exclude"), "{e}");
    }

    #[test]
    fn two_repositories_may_not_share_a_site_name() {
        let e = error(
            "    - {repo: \"https://a.test/stable\", name: x, version: \"1\"}\n    - {repo: \"https://b.test/stable\", name: y, version: \"1\"}\n",
        );
        assert!(
            e.contains("/charts/stable/") && e.contains("repoName"),
            "{e}"
        );
        parse(&with_charts(
            "    - {repo: \"https://a.test/stable\", name: x, version: \"1\"}\n    - {repo: \"https://b.test/stable\", repoName: b, name: y, version: \"1\"}\n",
        ))
        .unwrap();
    }
}
