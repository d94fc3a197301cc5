//! Parsing `/v2/…` request paths into routes: the one place that knows the URL grammar of the
//! OCI distribution spec. Pure and unit tested; handlers never look at raw paths.

use crate::digest::Digest;

/// Longest repository name accepted (the spec suggests 255 for registry+name).
pub const MAX_NAME_LEN: usize = 255;
/// Longest tag accepted (the spec's tag grammar allows 128 characters).
pub const MAX_TAG_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(PathDigest),
}

/// A digest in a request path. Bundles hold sha256 content only, so a well-formed digest of
/// the image spec's other registered algorithm (sha512) names nothing here: it is unknown
/// (404, as the distribution spec requires for content not found), not invalid (400, kept for
/// malformed digests and algorithms outside the registered ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathDigest {
    /// A digest this registry can hold.
    Held(Digest),
    /// A well-formed `sha512:<128 lowercase hex>` digest, which it never holds.
    Foreign(String),
}

impl PathDigest {
    /// The digest to look up, when it is one this registry can hold.
    pub fn held(&self) -> Option<&Digest> {
        match self {
            PathDigest::Held(digest) => Some(digest),
            PathDigest::Foreign(_) => None,
        }
    }
}

impl std::fmt::Display for PathDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathDigest::Held(digest) => write!(f, "{digest}"),
            PathDigest::Foreign(text) => f.write_str(text),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    Tags {
        name: String,
    },
    Manifest {
        name: String,
        reference: Reference,
    },
    Blob {
        name: String,
        digest: PathDigest,
    },
    Referrers {
        name: String,
        digest: PathDigest,
    },
    /// `/v2/<name>/blobs/uploads/…`: only writes go there.
    Upload {
        name: String,
    },
}

impl Route {
    /// The route's name in metrics and the access log.
    pub fn label(&self) -> &'static str {
        match self {
            Route::Base => "base",
            Route::Catalog => "catalog",
            Route::Tags { .. } => "tags",
            Route::Manifest { .. } => "manifest",
            Route::Blob { .. } => "blob",
            Route::Referrers { .. } => "referrers",
            Route::Upload { .. } => "upload",
        }
    }
}

/// Why a path is not a route, with the spec's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("invalid repository name")]
    NameInvalid,
    #[error("invalid tag")]
    TagInvalid,
    #[error("invalid digest")]
    DigestInvalid,
    #[error("no such endpoint")]
    NotFound,
}

impl PathError {
    /// The OCI error code for this failure. A manifest reference outside the tag grammar
    /// names no manifest: the spec's only failure for a manifest GET is 404, and its code
    /// table has `MANIFEST_UNKNOWN` for it (`TAG_INVALID` is a legacy schema-1 code clients
    /// must not depend on; `MANIFEST_INVALID` is about a pushed manifest).
    pub fn code(&self) -> &'static str {
        match self {
            PathError::NameInvalid => "NAME_INVALID",
            PathError::TagInvalid => "MANIFEST_UNKNOWN",
            PathError::DigestInvalid => "DIGEST_INVALID",
            PathError::NotFound => "NOT_FOUND",
        }
    }

    /// Whether the path names something that cannot exist (404) rather than being malformed
    /// (400).
    pub fn is_not_found(&self) -> bool {
        matches!(self, PathError::NotFound | PathError::TagInvalid)
    }
}

/// Parses the part of the path after `/v2/` (already percent-decoded by nobody: we refuse `%`).
pub fn parse(rest: &str) -> Result<Route, PathError> {
    if rest.is_empty() {
        return Ok(Route::Base);
    }
    if rest == "_catalog" {
        return Ok(Route::Catalog);
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let n = segments.len();
    let name_of = |end: usize| -> Result<String, PathError> {
        if end == 0 {
            return Err(PathError::NameInvalid);
        }
        let name = segments[..end].join("/");
        if valid_name(&name) {
            Ok(name)
        } else {
            Err(PathError::NameInvalid)
        }
    };
    if n >= 3 && segments[n - 2] == "tags" && segments[n - 1] == "list" {
        return Ok(Route::Tags {
            name: name_of(n - 2)?,
        });
    }
    if n >= 3 && segments[n - 2] == "manifests" {
        let name = name_of(n - 2)?;
        return Ok(Route::Manifest {
            name,
            reference: parse_reference(segments[n - 1])?,
        });
    }
    if let Some(i) = segments.iter().rposition(|s| *s == "uploads") {
        if i >= 2 && segments[i - 1] == "blobs" {
            return Ok(Route::Upload {
                name: name_of(i - 1)?,
            });
        }
    }
    if n >= 3 && segments[n - 2] == "blobs" {
        let digest = parse_digest(segments[n - 1])?;
        return Ok(Route::Blob {
            name: name_of(n - 2)?,
            digest,
        });
    }
    if n >= 3 && segments[n - 2] == "referrers" {
        let digest = parse_digest(segments[n - 1])?;
        return Ok(Route::Referrers {
            name: name_of(n - 2)?,
            digest,
        });
    }
    Err(PathError::NotFound)
}

/// `sha256:<64 hex>` (held) or `sha512:<128 hex>` (foreign), lowercase; anything else is
/// invalid.
fn parse_digest(text: &str) -> Result<PathDigest, PathError> {
    if let Ok(digest) = text.parse::<Digest>() {
        return Ok(PathDigest::Held(digest));
    }
    let sha512 = text.strip_prefix("sha512:").is_some_and(|hex| {
        hex.len() == 128
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if sha512 {
        Ok(PathDigest::Foreign(text.to_string()))
    } else {
        Err(PathError::DigestInvalid)
    }
}

fn parse_reference(text: &str) -> Result<Reference, PathError> {
    if text.contains(':') {
        return parse_digest(text).map(Reference::Digest);
    }
    let valid = !text.is_empty()
        && text.len() <= MAX_TAG_LEN
        && text
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(Reference::Tag(text.to_string()))
    } else {
        Err(PathError::TagInvalid)
    }
}

/// Repository names: lowercase path components of `[a-z0-9]` separated by `.`, `_`, `-`; the
/// first component may be a registry host with a port (`127.0.0.1:5000`).
pub fn valid_name(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return false;
    }
    name.split('/').enumerate().all(|(i, component)| {
        let allowed = |b: u8| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || b"._-".contains(&b)
                || (i == 0 && b == b':')
        };
        !component.is_empty()
            && component != "."
            && component != ".."
            && component.bytes().all(allowed)
            && component
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && component
                .bytes()
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn routes() {
        assert_eq!(parse(""), Ok(Route::Base));
        assert_eq!(parse("_catalog"), Ok(Route::Catalog));
        assert_eq!(
            parse("docker.io/calico/node/manifests/v3.28.0"),
            Ok(Route::Manifest {
                name: "docker.io/calico/node".into(),
                reference: Reference::Tag("v3.28.0".into())
            })
        );
        assert_eq!(
            parse(&format!("calico/node/manifests/{D}")),
            Ok(Route::Manifest {
                name: "calico/node".into(),
                reference: Reference::Digest(PathDigest::Held(D.parse().unwrap()))
            })
        );
        assert_eq!(
            parse(&format!("a/blobs/{D}")),
            Ok(Route::Blob {
                name: "a".into(),
                digest: PathDigest::Held(D.parse().unwrap())
            })
        );
        assert_eq!(
            parse("a/b/tags/list"),
            Ok(Route::Tags { name: "a/b".into() })
        );
        assert_eq!(
            parse(&format!("a/referrers/{D}")),
            Ok(Route::Referrers {
                name: "a".into(),
                digest: PathDigest::Held(D.parse().unwrap())
            })
        );
        assert_eq!(
            parse("a/blobs/uploads/"),
            Ok(Route::Upload { name: "a".into() })
        );
        assert_eq!(
            parse("a/blobs/uploads/123"),
            Ok(Route::Upload { name: "a".into() })
        );
        // A repository may itself be called "manifests" or "blobs".
        assert_eq!(
            parse("blobs/manifests/manifests/1"),
            Ok(Route::Manifest {
                name: "blobs/manifests".into(),
                reference: Reference::Tag("1".into())
            })
        );
        assert_eq!(
            parse("127.0.0.1:5000/a/manifests/1"),
            Ok(Route::Manifest {
                name: "127.0.0.1:5000/a".into(),
                reference: Reference::Tag("1".into())
            })
        );
    }

    #[test]
    fn sha512_digests_are_well_formed_but_never_held() {
        let sha512 = format!("sha512:{}", "ab".repeat(64));
        let foreign = PathDigest::Foreign(sha512.clone());
        assert_eq!(
            parse(&format!("a/blobs/{sha512}")),
            Ok(Route::Blob {
                name: "a".into(),
                digest: foreign.clone()
            })
        );
        assert_eq!(
            parse(&format!("a/manifests/{sha512}")),
            Ok(Route::Manifest {
                name: "a".into(),
                reference: Reference::Digest(foreign.clone())
            })
        );
        assert_eq!(
            parse(&format!("a/referrers/{sha512}")),
            Ok(Route::Referrers {
                name: "a".into(),
                digest: foreign.clone()
            })
        );
        assert_eq!(foreign.held(), None);
        assert_eq!(foreign.to_string(), sha512);
    }

    #[test]
    fn an_invalid_tag_is_an_unknown_manifest() {
        assert_eq!(PathError::TagInvalid.code(), "MANIFEST_UNKNOWN");
        assert!(PathError::TagInvalid.is_not_found());
        assert!(!PathError::DigestInvalid.is_not_found());
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse("a/blobs/sha256:abc"), Err(PathError::DigestInvalid));
        assert_eq!(parse("a/blobs/md5:abc"), Err(PathError::DigestInvalid));
        assert_eq!(parse("../etc/manifests/1"), Err(PathError::NameInvalid));
        assert_eq!(parse("a/../b/manifests/1"), Err(PathError::NameInvalid));
        assert_eq!(parse("A/manifests/1"), Err(PathError::NameInvalid));
        assert_eq!(parse("/manifests/1"), Err(PathError::NameInvalid));
        assert_eq!(parse("manifests/1"), Err(PathError::NotFound));
        assert_eq!(parse("a/manifests/-bad"), Err(PathError::TagInvalid));
        assert_eq!(parse("A/manifests/-bad"), Err(PathError::NameInvalid));
        assert_eq!(parse("a/blobs/sha512:abc"), Err(PathError::DigestInvalid));
        assert_eq!(
            parse(&format!("a/blobs/sha512:{}", "A".repeat(128))),
            Err(PathError::DigestInvalid)
        );
        assert_eq!(
            parse(&format!("a/blobs/sha384:{}", "a".repeat(96))),
            Err(PathError::DigestInvalid)
        );
        assert_eq!(
            parse(&format!("a/manifests/{}", "t".repeat(129))),
            Err(PathError::TagInvalid)
        );
        assert_eq!(
            parse(&format!("{}/manifests/1", "a".repeat(300))),
            Err(PathError::NameInvalid)
        );
        assert_eq!(parse("a/whatever"), Err(PathError::NotFound));
        assert_eq!(parse("a%2e%2e/manifests/1"), Err(PathError::NameInvalid));
    }
}
