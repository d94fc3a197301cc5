//! outpost: carry a Kubernetes release into sites with no internet.
//!
//! The library holds every capability; `src/main.rs` only parses the command line (in
//! `cli`), runs one command and maps errors to exit codes.

pub mod bundle;
pub mod checksum;
pub mod debian;
pub mod digest;
pub mod errors;
pub mod fetch;
pub mod file_plan;
pub mod fsutil;
pub mod hashpool;
pub mod helm;
pub mod kubernetes;
pub mod lock;
pub mod manifest;
pub mod nodeconfig;
pub mod oci;
pub mod platform;
pub mod progress;
pub mod push;
pub mod receipt;
pub mod reference;
pub mod referrers;
pub mod resolve;
pub mod rpm;
pub mod sbom;
pub mod server;
pub mod sign;
pub mod sitestore;
pub mod space;
pub mod store;
pub mod trust;
pub mod upstream;
pub mod xz;
