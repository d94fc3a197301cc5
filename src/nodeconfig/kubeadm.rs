//! kubeadm configuration that pulls the control-plane images from the mirror.

/// A ClusterConfiguration snippet, with the equivalent flags in a comment.
/// `mirror` is `host:port` as nodes reach the registry.
pub fn cluster_configuration(mirror: &str, kubernetes_version: &str) -> String {
    let mirror = mirror.trim_end_matches('/');
    let repository = format!("{mirror}/registry.k8s.io");
    format!(
        "# Written by `outpost config kubeadm`. Use with `kubeadm init --config <this file>`,\n\
         # or as flags: kubeadm init --image-repository {repository} --kubernetes-version {kubernetes_version}\n\
         apiVersion: kubeadm.k8s.io/v1beta4\n\
         kind: ClusterConfiguration\n\
         kubernetesVersion: {kubernetes_version}\n\
         imageRepository: {repository}\n"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn snippet() {
        let text = super::cluster_configuration("mirror.site:5000", "v1.31.2");
        assert!(
            text.contains(
                "\nkubernetesVersion: v1.31.2\nimageRepository: mirror.site:5000/registry.k8s.io\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "--image-repository mirror.site:5000/registry.k8s.io --kubernetes-version v1.31.2"
        ));
    }
}
