//! RPM packages: the package file format and signature check ([`header`]) and the signed
//! dnf repository a bundle carries for its pinned packages ([`repodata`]).

pub mod header;
pub mod repodata;

#[cfg(test)]
pub(crate) mod testkit;
