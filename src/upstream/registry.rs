//! Upstream registries: `oci-client` behind upstream overrides and the user's credentials.
//!
//! This is the only module that speaks the distribution protocol as a client. It returns raw
//! manifest bytes (never re-serialised) and blob byte streams; checking content against pins
//! is the caller's job (`resolve` for manifests, `store` for blobs), except for a whole blob,
//! which oci-client checks against the pin as it streams (see [`Registry::blob`]).
//!
//! An upstream override may carry a repository prefix (a Harbor proxy-cache project, a
//! Nexus or Artifactory Docker remote): only the request goes there; the reference keeps its
//! own registry and repository everywhere else.

use crate::digest::Digest;
use crate::manifest::Upstream;
use crate::oci::{self, MANIFEST_MEDIA_TYPES};
use crate::progress::Reporter;
use crate::upstream::retry::{retried, Failure};
use futures::stream::BoxStream;
use oci_client::client::{BlobResponse, ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use std::collections::BTreeMap;
use std::time::Duration;

/// A manifest as the registry served it.
#[derive(Debug, Clone)]
pub struct RawManifest {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub media_type: String,
}

/// Blob bytes from some offset on.
pub struct Download {
    /// The upstream honoured the requested offset (otherwise the stream starts at byte 0).
    pub resumed: bool,
    /// The stream starts at byte 0 and checks the pinned digest itself: it ends with an
    /// error, never cleanly, unless its bytes hash to the pin (oci-client's whole-blob pull).
    /// The store need not hash those bytes again.
    pub verified: bool,
    /// Why the upstream did not resume from the requested offset, when it refused to (a 416
    /// or 400 to the Range) and the blob is coming whole instead.
    pub resume_refused: Option<String>,
    pub stream: BoxStream<'static, Result<bytes::Bytes, std::io::Error>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{reference}: {message}")]
    Request {
        reference: String,
        message: String,
        /// Another attempt may succeed (a dropped connection, a timeout, a 5xx, 429).
        transient: bool,
    },
    #[error(
        "{reference}: the registry sent a manifest with digest {actual}, not the pinned {expected}"
    )]
    ManifestDigest {
        reference: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("{reference}: {source}")]
    Manifest {
        reference: String,
        source: oci::OciError,
    },
}

impl RegistryError {
    /// What went wrong, without the reference (for messages that name the image already).
    pub fn detail(&self) -> String {
        match self {
            RegistryError::Request { message, .. } => message.clone(),
            RegistryError::ManifestDigest {
                expected, actual, ..
            } => format!(
                "the registry sent a manifest with digest {actual}, not the pinned {expected}"
            ),
            RegistryError::Manifest { source, .. } => source.to_string(),
        }
    }
}

impl crate::upstream::retry::Reason for RegistryError {
    fn reason(&self) -> String {
        match self {
            RegistryError::Request { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

impl RegistryError {
    /// Whether another attempt may succeed; wrong content and refusals are final.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RegistryError::Request {
                transient: true,
                ..
            }
        )
    }
}

/// A client for every registry a manifest names.
pub struct Registry {
    client: Client,
    upstreams: BTreeMap<String, Upstream>,
}

impl Registry {
    pub fn new(upstreams: BTreeMap<String, Upstream>) -> Self {
        let plain: Vec<String> = upstreams
            .values()
            .filter(|u| u.plain_http)
            .map(|u| u.authority.clone())
            .collect();
        Registry {
            client: client(ClientProtocol::HttpsExcept(plain), false),
            upstreams,
        }
    }

    /// The reference to actually contact: the registry host replaced by its upstream override,
    /// and the repository put behind the override's repository prefix, if any.
    fn target(&self, image: &Reference) -> Reference {
        let (registry, repository) = match self.upstreams.get(image.registry()) {
            Some(upstream) => (
                upstream.authority.clone(),
                upstream.repository(image.repository()),
            ),
            None => (image.registry().to_string(), image.repository().to_string()),
        };
        match (image.digest(), image.tag()) {
            (Some(digest), _) => Reference::with_digest(registry, repository, digest.into()),
            (None, tag) => {
                Reference::with_tag(registry, repository, tag.unwrap_or("latest").into())
            }
        }
    }

    /// Credentials for `image`'s requests: those of the upstream override's host (the proxy
    /// that answers), else those of the registry the manifest names.
    fn auth(&self, image: &Reference) -> RegistryAuth {
        if let Some(upstream) = self.upstreams.get(image.registry()) {
            let auth = docker_auth(&upstream.authority);
            if !matches!(auth, RegistryAuth::Anonymous) {
                return auth;
            }
        }
        docker_auth(image.registry())
    }

    /// Fetches a manifest by tag or digest. When `image` carries a digest the bytes must
    /// hash to it.
    pub async fn manifest(&self, image: &Reference) -> Result<RawManifest, RegistryError> {
        let target = self.target(image);
        let auth = self.auth(image);
        let (bytes, _claimed) = self
            .client
            .pull_manifest_raw(&target, &auth, &MANIFEST_MEDIA_TYPES)
            .await
            .map_err(|e| request_error(image.whole(), &e, image.registry()))?;
        checked_manifest(image, &bytes)
    }

    /// Every tag of `image`'s repository (the distribution tag list, followed page by page;
    /// at most 100,000 tags).
    pub async fn tags(&self, image: &Reference) -> Result<Vec<String>, RegistryError> {
        let target = self.target(image);
        let auth = self.auth(image);
        let mut tags: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            let page = self
                .client
                .list_tags(&target, &auth, Some(1000), tags.last().map(String::as_str))
                .await
                .map_err(|e| request_error(image.whole(), &e, image.registry()))?;
            let (before, listed) = (tags.len(), page.tags.len());
            tags.extend(page.tags.into_iter().filter(|t| seen.insert(t.clone())));
            if listed < 1000 || tags.len() == before || tags.len() >= 100_000 {
                return Ok(tags);
            }
        }
    }

    /// Like [`Registry::manifest`], but a manifest the registry does not have (a cosign
    /// tag-scheme tag nobody pushed) is `None`, not an error.
    pub async fn manifest_if_exists(
        &self,
        image: &Reference,
    ) -> Result<Option<RawManifest>, RegistryError> {
        let target = self.target(image);
        let auth = self.auth(image);
        match self
            .client
            .pull_manifest_raw(&target, &auth, &MANIFEST_MEDIA_TYPES)
            .await
        {
            Ok((bytes, _claimed)) => checked_manifest(image, &bytes).map(Some),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(request_error(image.whole(), &e, image.registry())),
        }
    }

    /// The referrers of `subject` in `image`'s repository: the OCI 1.1 referrers API, or,
    /// where the registry has none (a 404, as distribution 2.8 answers), the referrers tag
    /// schema (an index tagged `sha256-<hex>`); empty when neither lists anything.
    pub async fn referrers(
        &self,
        image: &Reference,
        subject: &Digest,
    ) -> Result<Vec<oci::Descriptor>, RegistryError> {
        let by_digest = Reference::with_digest(
            image.registry().to_string(),
            image.repository().to_string(),
            subject.to_string(),
        );
        let target = self.target(&by_digest);
        let auth = self.auth(image);
        self.client
            .store_auth_if_needed(target.resolve_registry(), &auth)
            .await;
        let index = match self.client.pull_referrers(&target, None).await {
            Ok(index) => index,
            // Some registries refuse the route otherwise than with the 404 the spec asks
            // for (400, 405, a page that is not an index): they have no referrers API either.
            Err(e) if refuses_referrers_api(&e) => {
                let tag = Reference::with_tag(
                    image.registry().to_string(),
                    image.repository().to_string(),
                    crate::referrers::schema_tag(subject),
                );
                return Ok(self
                    .manifest_if_exists(&tag)
                    .await?
                    .map(|index| crate::referrers::schema_index_referrers(&index.bytes))
                    .unwrap_or_default());
            }
            Err(e) => {
                let what = format!("{}/{}@{subject}", image.registry(), image.repository());
                return Err(request_error(
                    format!("referrers of {what}"),
                    &e,
                    image.registry(),
                ));
            }
        };
        // An entry that is not a valid descriptor (another digest algorithm, a typo) is left
        // out, as the tag-schema path does: it cannot be fetched by digest anyway.
        Ok(index
            .manifests
            .into_iter()
            .filter_map(|entry| {
                serde_json::to_value(&entry)
                    .and_then(serde_json::from_value::<oci::Descriptor>)
                    .ok()
            })
            .collect())
    }

    /// [`Registry::referrers`] with the retry policy of `upstream::retry`.
    pub async fn referrers_retried(
        &self,
        image: &Reference,
        subject: &Digest,
        reporter: &dyn Reporter,
    ) -> Result<Vec<oci::Descriptor>, RegistryError> {
        let what = format!("referrers of {}@{subject}", image.repository());
        retried(&what, reporter, || async {
            self.referrers(image, subject).await.map_err(|e| {
                let transient = e.is_transient();
                Failure::new(e, transient)
            })
        })
        .await
        .map_err(|gave_up| gave_up.error)
    }

    /// [`Registry::manifest_if_exists`] with the retry policy of `upstream::retry`.
    pub async fn manifest_if_exists_retried(
        &self,
        image: &Reference,
        reporter: &dyn Reporter,
    ) -> Result<Option<RawManifest>, RegistryError> {
        let what = format!("manifest of {}", image.whole());
        retried(&what, reporter, || async {
            self.manifest_if_exists(image).await.map_err(|e| {
                let transient = e.is_transient();
                Failure::new(e, transient)
            })
        })
        .await
        .map_err(|gave_up| gave_up.error)
    }

    /// [`Registry::manifest`] with the retry policy of `upstream::retry`: a dropped connection
    /// or a 5xx is retried (and noted); a wrong digest or a refusal fails at once. The error
    /// after several attempts says how many.
    pub async fn manifest_retried(
        &self,
        image: &Reference,
        reporter: &dyn Reporter,
    ) -> Result<RawManifest, RegistryError> {
        let what = format!("manifest of {}", image.whole());
        retried(&what, reporter, || async {
            self.manifest(image).await.map_err(|e| {
                let transient = e.is_transient();
                Failure::new(e, transient)
            })
        })
        .await
        .map_err(|gave_up| match gave_up.error {
            RegistryError::Request {
                reference,
                message,
                transient,
            } if gave_up.attempts > 1 => RegistryError::Request {
                reference,
                message: format!("{message} (after {} attempts)", gave_up.attempts),
                transient,
            },
            other => other,
        })
    }

    /// Streams a blob of `image`'s repository from byte `offset`.
    ///
    /// From byte 0 the blob is requested whole, without a Range (some CDNs in front of
    /// registries answer 416 to `bytes=0-` or 400 to any Range), and oci-client checks the
    /// bytes against the pin as they stream ([`Download::verified`]). A Range is sent only to
    /// resume; a resumed stream is not checked here (the store hashes the partial file and
    /// what follows). A resume the upstream refuses (a 416, a 400: any answer other than a
    /// network failure or a 5xx) falls back to the whole blob; one it ignores (200) comes
    /// whole and checked. Either way each byte is hashed once.
    pub async fn blob(
        &self,
        image: &Reference,
        digest: &Digest,
        offset: u64,
    ) -> Result<Download, RegistryError> {
        let target = self.target(image);
        let auth = self.auth(image);
        self.client
            .store_auth_if_needed(target.resolve_registry(), &auth)
            .await;
        let reference = format!("{}@{digest}", image.repository());
        let digest_text = digest.to_string();
        let mut resume_refused = None;
        if offset > 0 {
            let response = self
                .client
                .pull_blob_stream_partial(&target, digest_text.as_str(), offset, None)
                .await;
            match response {
                Ok(BlobResponse::Partial(sized)) => {
                    return Ok(Download {
                        resumed: true,
                        verified: false,
                        resume_refused: None,
                        stream: sized.stream,
                    })
                }
                Ok(BlobResponse::Full(sized)) => {
                    return Ok(Download {
                        resumed: false,
                        verified: true,
                        resume_refused: None,
                        stream: sized.stream,
                    })
                }
                Err(e) if is_transient(&e) => {
                    return Err(request_error(reference, &e, image.registry()))
                }
                Err(e) => resume_refused = Some(describe_error(&e, image.registry())),
            }
        }
        let sized = self
            .client
            .pull_blob_stream(&target, digest_text.as_str())
            .await
            .map_err(|e| request_error(reference, &e, image.registry()))?;
        Ok(Download {
            resumed: false,
            verified: true,
            resume_refused,
            stream: sized.stream,
        })
    }
}

/// Manifest bytes as fetched for `image`: they must hash to its digest, if it has one, and
/// parse as a manifest or index.
fn checked_manifest(image: &Reference, bytes: &[u8]) -> Result<RawManifest, RegistryError> {
    let digest = Digest::of(bytes);
    if let Some(expected) = image.digest().and_then(|d| d.parse::<Digest>().ok()) {
        if expected != digest {
            return Err(RegistryError::ManifestDigest {
                reference: image.whole(),
                expected,
                actual: digest,
            });
        }
    }
    let parsed =
        oci::Parsed::from_bytes(bytes, None).map_err(|source| RegistryError::Manifest {
            reference: image.whole(),
            source,
        })?;
    Ok(RawManifest {
        media_type: parsed.media_type().to_string(),
        bytes: bytes.to_vec(),
        digest,
    })
}

/// Whether the referrers route answered as a registry without the referrers API may (a
/// client error other than a refusal of credentials or a rate limit, or a body that is not
/// an index), rather than failing.
fn refuses_referrers_api(error: &oci_client::errors::OciDistributionError) -> bool {
    use oci_client::errors::OciDistributionError as E;
    let refused =
        |status: u16| (400..500).contains(&status) && ![401, 403, 408, 429].contains(&status);
    match error {
        E::ServerError { code, .. } => refused(*code),
        E::RegistryError { .. } => !is_transient(error),
        E::SpecViolationError(_) | E::ManifestParsingError(_) => true,
        _ => false,
    }
}

/// Whether the registry answered that the manifest does not exist (404, `MANIFEST_UNKNOWN`).
pub fn is_missing(error: &oci_client::errors::OciDistributionError) -> bool {
    use oci_client::errors::{OciDistributionError as E, OciErrorCode};
    match error {
        E::ImageManifestNotFoundError(_) => true,
        E::ServerError { code, .. } => *code == 404,
        E::RequestError(e) => e.status().is_some_and(|s| s.as_u16() == 404),
        E::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NotFound
            )
        }),
        _ => false,
    }
}

/// A failed request, with whether another attempt may succeed.
fn request_error(
    reference: String,
    error: &oci_client::errors::OciDistributionError,
    host: &str,
) -> RegistryError {
    RegistryError::Request {
        reference,
        message: describe_error(error, host),
        transient: is_transient(error),
    }
}

/// Whether another attempt may succeed: a network failure (connection refused or dropped,
/// timeout, a body cut short), a 5xx, 408 or 429 (`TOOMANYREQUESTS`). A refusal (401, 404,
/// 400, 416) or wrong content is final.
fn is_transient(error: &oci_client::errors::OciDistributionError) -> bool {
    use oci_client::errors::{OciDistributionError as E, OciErrorCode};
    match error {
        E::RequestError(e) => match e.status() {
            Some(status) => transient_status(status.as_u16()),
            None => !e.is_builder() && !e.is_redirect(),
        },
        E::IoError(_) => true,
        E::ServerError { code, .. } => transient_status(*code),
        E::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| e.code == OciErrorCode::Toomanyrequests),
        _ => false,
    }
}

/// 5xx, 408 (request timeout) and 429 (too many requests) may pass on another attempt.
pub fn transient_status(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

/// The one `oci-client` configuration: pulls (resolve, fetch) and pushes (`outpost push`)
/// share the connect timeout; a push uploads each blob in one request (monolithic, so a
/// blob streams from the bundle once) and allows a slow registry more time to answer.
pub fn client(protocol: ClientProtocol, pushing: bool) -> Client {
    Client::new(ClientConfig {
        protocol,
        use_monolithic_push: pushing,
        connect_timeout: Some(Duration::from_secs(15)),
        read_timeout: Some(Duration::from_secs(if pushing { 300 } else { 60 })),
        ..Default::default()
    })
}

/// Credentials for a registry host from the Docker config (`~/.docker/config.json` and its
/// credential helpers), or anonymous.
pub fn docker_auth(host: &str) -> RegistryAuth {
    let keys: Vec<&str> = if host == "docker.io" {
        vec![
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
        ]
    } else {
        vec![host]
    };
    for key in keys {
        match docker_credential::get_credential(key) {
            Ok(docker_credential::DockerCredential::UsernamePassword(user, password)) => {
                return RegistryAuth::Basic(user, password)
            }
            Ok(docker_credential::DockerCredential::IdentityToken(token)) => {
                return RegistryAuth::Bearer(token)
            }
            Err(_) => continue,
        }
    }
    RegistryAuth::Anonymous
}

/// One line for an oci-client error, with the cause chain (connection refused, status, …)
/// and what to do when the registry wants credentials.
pub fn describe_error(error: &oci_client::errors::OciDistributionError, host: &str) -> String {
    use oci_client::errors::OciDistributionError as E;
    if matches!(
        error,
        E::UnauthorizedError { .. } | E::AuthenticationFailure(_)
    ) {
        let mut message = error.to_string();
        message.push_str(&format!(
            " (log in to {host}: add its credentials to ~/.docker/config.json or $DOCKER_CONFIG/config.json, e.g. with `skopeo login --authfile ~/.docker/config.json {host}`)"
        ));
        return message;
    }
    crate::errors::chain(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse_upstream;

    fn registry(host: &str, url: &str) -> Registry {
        Registry::new(BTreeMap::from([(
            host.to_string(),
            parse_upstream(url).unwrap(),
        )]))
    }

    #[test]
    fn a_repository_prefix_goes_before_the_repository_only() {
        let harbor = registry("docker.io", "https://harbor.corp/dockerhub-proxy");
        let official: Reference = "alpine:3.20".parse().unwrap();
        let target = harbor.target(&official);
        assert_eq!(
            target.whole(),
            "harbor.corp/dockerhub-proxy/library/alpine:3.20"
        );
        let pinned: Reference = format!("docker.io/calico/node@sha256:{}", "a".repeat(64))
            .parse()
            .unwrap();
        assert_eq!(
            harbor.target(&pinned).whole(),
            format!(
                "harbor.corp/dockerhub-proxy/calico/node@sha256:{}",
                "a".repeat(64)
            )
        );
        // Another registry is untouched; the reference itself keeps its names.
        let other: Reference = "quay.io/cilium/cilium:v1".parse().unwrap();
        assert_eq!(harbor.target(&other).whole(), "quay.io/cilium/cilium:v1");
        assert_eq!(official.whole(), "docker.io/library/alpine:3.20");
    }
}
