//! Node configuration that points nodes at the outpost mirror: text generation per runtime,
//! and (for apt) the repository keys read from a bundle. Writing files is the CLI's job.
//!
//! Every runtime's registry configuration is rendered from one [`mirrors::SiteMirrors`]:
//! containerd (`containerd`), k3s and RKE2 (`k3s`), CRI-O and podman (`containers`), Talos
//! (`talos`) and Docker (`docker`).

pub mod apt;
pub mod check;
pub mod containerd;
pub mod containers;
pub mod dnf;
pub mod docker;
pub mod helm;
pub mod k3s;
pub mod kubeadm;
pub mod kubespray;
pub mod mirrors;
pub mod talos;
