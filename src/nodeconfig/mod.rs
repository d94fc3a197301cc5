//! Node configuration that points nodes at the outpost mirror. Pure text generation.

pub mod containerd;
pub mod kubeadm;
pub mod kubespray;
