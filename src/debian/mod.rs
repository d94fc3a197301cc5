//! Debian packaging logic, pure: control-file (deb822) parsing, version comparison,
//! dependency relations and the dependency closure over a package universe.
//! Downloading and verifying archive indexes (Release, InRelease, Packages) is
//! `resolve::apt`'s job; these modules only read text that was already checked.

pub mod closure;
pub mod control;
pub mod index;
pub mod openpgp;
pub mod relation;
pub mod release;
pub mod sources;
pub mod universe;
pub mod version;
