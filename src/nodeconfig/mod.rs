//! Node configuration that points nodes at the outpost mirror: text generation per runtime,
//! and (for apt) the repository keys read from a bundle. Writing files is the CLI's job.

pub mod apt;
pub mod check;
pub mod containerd;
pub mod helm;
pub mod kubeadm;
pub mod kubespray;
pub mod mirrors;
