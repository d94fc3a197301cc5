//! What `lock` would fetch, worked out without the network (`lock --dry-run`): every file
//! URL and every image reference, including kubeadm's control-plane images when the
//! manifest asks for them. The CLI renders it; nothing here prints.

use super::{files, ResolveError};
use crate::kubernetes;
use crate::manifest::Release;

/// The URLs and images a release would fetch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    /// File URLs; a marker version shows as the marker URL and `<marker>` in binary URLs.
    pub files: Vec<String>,
    /// Image references, the manifest's first, then the control-plane set (or, for a marker
    /// version, a note saying which set the version will name).
    pub images: Vec<String>,
    /// Helm charts as `spec.charts` names them (`ingress-nginx 4.11.* from URL`); the images
    /// they deploy are found only by `lock`, which reads them.
    pub charts: Vec<String>,
    /// RPM requests per entry and architecture (`a, b >= 2 from URL (x86_64)`); their
    /// closure is found only by `lock`, which reads the repositories.
    pub rpms: Vec<String>,
}

/// Plans `release` without any network access.
pub fn plan(release: &Release) -> Result<Plan, ResolveError> {
    let files = files::dry_run_urls(release);
    let mut images: Vec<String> = release.references().cloned().collect();
    if let Some(k) = release.spec.kubernetes.as_ref().filter(|k| k.images) {
        if kubernetes::is_marker(&k.version) {
            images.push(format!(
                "(kubeadm control-plane images for the version {} names)",
                k.version
            ));
        } else {
            images.extend(
                kubernetes::control_plane_images(&k.version).map_err(ResolveError::Kubernetes)?,
            );
        }
    }
    let charts = release
        .spec
        .charts
        .iter()
        .map(|chart| match chart.source() {
            Some(crate::manifest::ChartSource::Repo { url, name }) => {
                format!("{name} {} from {url}", chart.version)
            }
            _ => format!("{} {}", chart.label(), chart.version),
        })
        .collect();
    let rpms = release
        .spec
        .packages
        .iter()
        .flat_map(|p| &p.rpm)
        .flat_map(|spec| {
            let from = match &spec.baseurl {
                Some(url) => url.clone(),
                None => "the host's dnf repositories".into(),
            };
            super::rpm::arches_of(spec, release)
                .into_iter()
                .map(move |arch| {
                    let from = from.replace("$basearch", &arch);
                    format!("{} from {from} ({arch})", spec.packages.join(", "))
                })
        })
        .collect();
    Ok(Plan {
        files,
        images,
        charts,
        rpms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn release(kubernetes: &str) -> Release {
        let text = format!("apiVersion: outpost/v1alpha1\nkind: Release\nmetadata: {{name: edge, version: \"1\"}}\nspec:\n  images: [registry.test/library/alpha:1]\n{kubernetes}");
        Release::parse(Path::new("m.yaml"), &text).unwrap()
    }

    #[test]
    fn a_marker_version_is_named_not_resolved() {
        let plan = plan(&release(
            "  kubernetes: {version: stable-1.31, binaries: [kubeadm], images: true}\n",
        ))
        .unwrap();
        assert_eq!(
            plan.images,
            [
                "registry.test/library/alpha:1",
                "(kubeadm control-plane images for the version stable-1.31 names)"
            ]
        );
        assert!(
            plan.files.iter().any(|u| u.contains("<stable-1.31>")),
            "{plan:?}"
        );
    }

    #[test]
    fn an_exact_version_lists_the_control_plane_images() {
        let plan = plan(&release(
            "  kubernetes: {version: v1.31.2, binaries: [], images: true}\n",
        ))
        .unwrap();
        assert!(plan.images.len() > 1, "{plan:?}");
        assert!(
            plan.images
                .iter()
                .any(|i| i.contains("kube-apiserver:v1.31.2")),
            "{plan:?}"
        );
    }
}
