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
    if let Some(reference) = canonical(text) {
        return Ok(reference);
    }
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

/// The reference `text` names when it is already in the canonical form outpost writes
/// (`host[:port]/path[:tag][@sha256:HEX]`, lower-case host, not Docker Hub), read without
/// the general grammar's regular expression: the one oci-spec compiles takes ~15 MiB, which
/// a server reading thousands of references from a bundle need not pay. `None` for anything
/// else, which [`parse`] reads the general way; for every text it accepts, the result is
/// the general way's.
fn canonical(text: &str) -> Option<Reference> {
    let (name, digest) = match text.split_once('@') {
        Some((name, digest)) => {
            let hex = digest.strip_prefix("sha256:")?;
            let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
            if hex.len() != 64 || !hex.bytes().all(lower_hex) {
                return None;
            }
            (name, Some(digest.to_string()))
        }
        None => (text, None),
    };
    let (host, path) = name.split_once('/')?;
    let (path, tag) = match path.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => (path, Some(tag)),
        _ => (path, None),
    };
    let host_ok = is_host(host)
        && !matches!(
            host,
            "docker.io" | "index.docker.io" | "registry-1.docker.io"
        )
        && host_name_ok(host);
    let tag_ok = tag.is_none_or(|tag| {
        tag.len() <= 128
            && tag.bytes().enumerate().all(|(i, b)| {
                b.is_ascii_alphanumeric() || b == b'_' || (i > 0 && matches!(b, b'.' | b'-'))
            })
    });
    if !host_ok || !tag_ok || (tag.is_none() && digest.is_none()) {
        return None;
    }
    if name.len() > 255 || !path.split('/').all(is_path_component) {
        return None;
    }
    let (host, path) = (host.to_string(), path.to_string());
    Some(match (tag, digest) {
        (Some(tag), Some(digest)) => Reference::with_tag_and_digest(host, path, tag.into(), digest),
        (Some(tag), None) => Reference::with_tag(host, path, tag.into()),
        (None, Some(digest)) => Reference::with_digest(host, path, digest),
        (None, None) => return None,
    })
}

/// A lower-case host name with an optional port: `a.b-c.d[:5000]`, labels of letters and
/// digits joined by `-` inside, `localhost`.
fn host_name_ok(host: &str) -> bool {
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// One component of a repository name (distribution spec): lowercase alphanumerics, joined
/// by `.`, `_`, `__` or any run of `-`.
pub fn is_path_component(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &segment[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
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

    /// The general way, for comparing with [`canonical`].
    fn general(text: &str) -> Result<Reference, String> {
        with_lowercase_host(text)
            .parse()
            .map_err(|e| format!("{e}"))
    }

    #[test]
    fn canonical_references_read_as_the_general_grammar_reads_them() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let accepted = [
            "registry.test/scale/app0:1".to_string(),
            "registry.k8s.io/pause:3.10".to_string(),
            "localhost:5000/team/app-x__y.z:v1.2-rc_3".to_string(),
            format!("quay.io/a/b/c@sha256:{hex}"),
            format!("ghcr.io/o/r:tag@sha256:{hex}"),
            "127.0.0.1:5000/a--b/c:x".to_string(),
            format!("r.io/{}:t", "a".repeat(200)),
        ];
        for text in &accepted {
            let fast = canonical(text).unwrap_or_else(|| panic!("{text} not canonical"));
            let slow = general(text).unwrap();
            assert_eq!(
                (
                    fast.registry(),
                    fast.repository(),
                    fast.tag(),
                    fast.digest()
                ),
                (
                    slow.registry(),
                    slow.repository(),
                    slow.tag(),
                    slow.digest()
                ),
                "{text}"
            );
        }
        // Left to the general way: Docker Hub names (normalised there), short names, upper
        // case, other digests, no tag or digest, and what the grammar refuses.
        let declined = [
            "docker.io/alpine:3".to_string(),
            "index.docker.io/library/alpine:3".to_string(),
            "alpine:3".to_string(),
            "library/alpine".to_string(),
            "Registry.Test/a:1".to_string(),
            "r.io/App:1".to_string(),
            "r.io/a".to_string(),
            format!("r.io/a@sha512:{hex}{hex}"),
            "r.io/a@sha256:abc".to_string(),
            "r.io/a..b:1".to_string(),
            "r.io/a___b:1".to_string(),
            "r.io/-a:1".to_string(),
            "r.io/a/:1".to_string(),
            "r.io/a:-t".to_string(),
            format!("r.io/a:{}", "t".repeat(129)),
            format!("r.io/{}:t", "a".repeat(260)),
            "r.io:99999999/a:1".to_string(),
            "-r.io/a:1".to_string(),
        ];
        for text in &declined {
            assert!(canonical(text).is_none(), "{text}");
        }
    }

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
