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
    Digest(Digest),
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
        digest: Digest,
    },
    Referrers {
        name: String,
        digest: Digest,
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
    /// The OCI error code for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            PathError::NameInvalid => "NAME_INVALID",
            PathError::TagInvalid => "MANIFEST_INVALID",
            PathError::DigestInvalid => "DIGEST_INVALID",
            PathError::NotFound => "NOT_FOUND",
        }
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
        let reference = parse_reference(segments[n - 1])?;
        return Ok(Route::Manifest {
            name: name_of(n - 2)?,
            reference,
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
        let digest = segments[n - 1]
            .parse()
            .map_err(|_| PathError::DigestInvalid)?;
        return Ok(Route::Blob {
            name: name_of(n - 2)?,
            digest,
        });
    }
    if n >= 3 && segments[n - 2] == "referrers" {
        let digest = segments[n - 1]
            .parse()
            .map_err(|_| PathError::DigestInvalid)?;
        return Ok(Route::Referrers {
            name: name_of(n - 2)?,
            digest,
        });
    }
    Err(PathError::NotFound)
}

fn parse_reference(text: &str) -> Result<Reference, PathError> {
    if text.contains(':') {
        return text
            .parse()
            .map(Reference::Digest)
            .map_err(|_| PathError::DigestInvalid);
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
                reference: Reference::Digest(D.parse().unwrap())
            })
        );
        assert_eq!(
            parse(&format!("a/blobs/{D}")),
            Ok(Route::Blob {
                name: "a".into(),
                digest: D.parse().unwrap()
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
                digest: D.parse().unwrap()
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
    fn rejects_bad_input() {
        assert_eq!(parse("a/blobs/sha256:abc"), Err(PathError::DigestInvalid));
        assert_eq!(parse("a/blobs/md5:abc"), Err(PathError::DigestInvalid));
        assert_eq!(parse("../etc/manifests/1"), Err(PathError::NameInvalid));
        assert_eq!(parse("a/../b/manifests/1"), Err(PathError::NameInvalid));
        assert_eq!(parse("A/manifests/1"), Err(PathError::NameInvalid));
        assert_eq!(parse("/manifests/1"), Err(PathError::NameInvalid));
        assert_eq!(parse("manifests/1"), Err(PathError::NotFound));
        assert_eq!(parse("a/manifests/-bad"), Err(PathError::TagInvalid));
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
