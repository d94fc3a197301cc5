//! The connected side's clients: the one HTTP client (`http`: files, release markers,
//! archives) and the one registry client (`registry`: the distribution protocol via
//! `oci-client`). Both honour the manifest's upstream overrides; neither checks content
//! against pins (that is `resolve`'s and `store`'s job).

pub mod http;
pub mod registry;
