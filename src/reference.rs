//! Image references: parsed the way registries and containerd do (`alpine` →
//! `docker.io/library/alpine:latest`), with any digest checked to be one outpost can verify,
//! and the registry host in the lower case a node asks for (host names are case-insensitive,
//! DNS; repository paths are not, and upper case there stays an error).
//!
//! Used wherever a reference is read: the manifest, the resolver, fetch, the opened bundle,
//! the server's catalog and push. Not for registry paths on the wire (`server::path`).

use crate::digest::Digest;
pub use oci_client::Reference;

/// Parses an image reference, rejecting digests we cannot check. The registry host comes
/// back in lower case (`Registry.Example:4567/app:1` → `registry.example:4567/app:1`), so the
/// lockfile, the bundle, the mirror and the node configuration all name the host the way a
/// node's runtime asks for it.
///
/// Errors: a message naming the text (`` `x` is not an image reference (…) ``).
pub fn parse(text: &str) -> Result<Reference, String> {
    let normalized = with_lowercase_host(text);
    let reference: Reference = normalized.parse().map_err(|e| {
        match upper_case_path(&normalized) {
            Some(path) => format!(
                "`{text}` is not an image reference: the repository path `{path}` has upper case (only the registry host is case-insensitive)"
            ),
            None => format!("`{text}` is not an image reference ({e})"),
        }
    })?;
    if let Some(digest) = reference.digest() {
        digest
            .parse::<Digest>()
            .map_err(|e| format!("`{text}`: {e}"))?;
    }
    Ok(reference)
}

/// Whether the first path component of a reference names a registry host: it has a `.` or a
/// `:` (port), or is `localhost` (the rule of docker/distribution's reference grammar, which
/// containerd and oci-client share), compared case-insensitively.
fn is_host(component: &str) -> bool {
    component.contains('.')
        || component.contains(':')
        || component.eq_ignore_ascii_case("localhost")
}

/// `text` with its registry host (if it names one) in lower case; everything else unchanged.
fn with_lowercase_host(text: &str) -> String {
    match text.split_once('/') {
        Some((host, rest)) if is_host(host) => format!("{}/{rest}", host.to_ascii_lowercase()),
        _ => text.to_string(),
    }
}

/// The repository path of `text` (without host, tag or digest) when it has upper case.
fn upper_case_path(text: &str) -> Option<&str> {
    let path = match text.split_once('/') {
        Some((host, rest)) if is_host(host) => rest,
        _ => text,
    };
    let path = path.split_once('@').map_or(path, |(name, _)| name);
    let path = path.rsplit_once(':').map_or(path, |(name, _)| name);
    path.bytes().any(|b| b.is_ascii_uppercase()).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_hosts_are_lower_cased() {
        let reference = parse("Registry.Example:4567/app:1").unwrap();
        assert_eq!(reference.registry(), "registry.example:4567");
        assert_eq!(reference.repository(), "app");
        assert_eq!(reference.whole(), "registry.example:4567/app:1");
        assert_eq!(
            parse("LOCALHOST:5000/team/app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
                .unwrap()
                .whole(),
            "localhost:5000/team/app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(parse("LocalHost/app:1").unwrap().whole(), "localhost/app:1");
        // Docker Hub's names keep their rules once the host is lower case.
        assert_eq!(
            parse("Docker.IO/alpine").unwrap().whole(),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(
            parse("Index.Docker.io/calico/node:v3").unwrap().whole(),
            "docker.io/calico/node:v3"
        );
        // Tags keep their case.
        assert_eq!(parse("r.test/app:V1").unwrap().tag(), Some("V1"));
    }

    #[test]
    fn upper_case_in_the_repository_path_is_an_error() {
        for (text, path) in [
            ("Registry.Example:4567/App:1", "App"),
            ("registry.example/team/App", "team/App"),
            ("Alpine:1", "Alpine"),
            ("r.test/App@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "App"),
        ] {
            let message = parse(text).unwrap_err();
            assert_eq!(
                message,
                format!("`{text}` is not an image reference: the repository path `{path}` has upper case (only the registry host is case-insensitive)")
            );
        }
        assert!(parse("r.test/app:1:2")
            .unwrap_err()
            .starts_with("`r.test/app:1:2` is not an image reference ("));
    }
}
