//! The connected side's clients: the one HTTP client (`http`: files, release markers,
//! archives) and the one registry client (`registry`: the distribution protocol via
//! `oci-client`), and the one retry policy they are driven with (`retry`). Both clients
//! honour the manifest's upstream overrides; neither checks content against pins (that is
//! `resolve`'s and `store`'s job, or oci-client's for a whole blob, see `registry`).

pub mod endpoint;
pub mod http;
pub mod registry;
pub mod retry;
