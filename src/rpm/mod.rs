//! RPM repositories (rpm-md): version comparison, dependencies (simple and rich), the
//! repository metadata (`repomd.xml`, `primary.xml`, `filelists.xml`) and the dependency
//! closure dnf would install. Pure: fetching and checking signatures is `resolve::rpm`'s.

pub mod closure;
pub mod dep;
pub mod filelists;
pub mod primary;
pub mod repofile;
pub mod repomd;
pub mod universe;
pub mod version;
mod xml;
