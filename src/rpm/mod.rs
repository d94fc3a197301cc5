//! RPM packages and repositories (rpm-md): version comparison, dependencies (simple and
//! rich), the repository metadata (`repomd.xml`, `primary.xml`, `filelists.xml`), the
//! dependency closure dnf would install, the package file format and its header signature
//! check ([`header`]), and the signed dnf repository a bundle carries for its pinned
//! packages ([`repodata`]). Pure: fetching is `resolve::rpm`'s.

pub mod closure;
pub mod dep;
pub mod filelists;
pub mod header;
pub mod package;
pub mod primary;
pub mod repodata;
pub mod repofile;
pub mod repomd;
pub mod universe;
pub mod version;
mod xml;

#[cfg(test)]
pub(crate) mod testkit;
