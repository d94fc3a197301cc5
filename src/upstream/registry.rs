//! Upstream registries: `oci-client` behind upstream overrides and the user's credentials.
//!
//! This is the only module that speaks the distribution protocol as a client. It returns raw
//! manifest bytes (never re-serialised) and blob byte streams; checking content against pins
//! is the caller's job (`resolve` for manifests, `store` for blobs).

use crate::digest::Digest;
use crate::manifest::Upstream;
use crate::oci::{self, MANIFEST_MEDIA_TYPES};
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
    /// The registry honoured the requested offset (otherwise the stream starts at byte 0).
    pub resumed: bool,
    pub stream: BoxStream<'static, Result<bytes::Bytes, std::io::Error>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{reference}: {message}")]
    Request { reference: String, message: String },
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

    /// The reference to actually contact: the registry host replaced by its upstream override.
    fn target(&self, image: &Reference) -> Reference {
        let registry = self
            .upstreams
            .get(image.registry())
            .map(|u| u.authority.clone())
            .unwrap_or_else(|| image.registry().to_string());
        match (image.digest(), image.tag()) {
            (Some(digest), _) => {
                Reference::with_digest(registry, image.repository().into(), digest.into())
            }
            (None, tag) => Reference::with_tag(
                registry,
                image.repository().into(),
                tag.unwrap_or("latest").into(),
            ),
        }
    }

    fn auth(&self, host: &str) -> RegistryAuth {
        docker_auth(host)
    }

    /// Fetches a manifest by tag or digest. When `image` carries a digest the bytes must
    /// hash to it.
    pub async fn manifest(&self, image: &Reference) -> Result<RawManifest, RegistryError> {
        let target = self.target(image);
        let auth = self.auth(image.registry());
        let (bytes, _claimed) = self
            .client
            .pull_manifest_raw(&target, &auth, &MANIFEST_MEDIA_TYPES)
            .await
            .map_err(|e| RegistryError::Request {
                reference: image.whole(),
                message: describe_error(&e, image.registry()),
            })?;
        let digest = Digest::of(&bytes);
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
            oci::Parsed::from_bytes(&bytes, None).map_err(|source| RegistryError::Manifest {
                reference: image.whole(),
                source,
            })?;
        Ok(RawManifest {
            media_type: parsed.media_type().to_string(),
            bytes: bytes.to_vec(),
            digest,
        })
    }

    /// Streams a blob of `image`'s repository from byte `offset`.
    ///
    /// We always send a Range (even `bytes=0-`): registries answer 206, and oci-client then
    /// leaves hashing to us, so each byte is hashed once, by the store, against the pin.
    pub async fn blob(
        &self,
        image: &Reference,
        digest: &Digest,
        offset: u64,
    ) -> Result<Download, RegistryError> {
        let target = self.target(image);
        let auth = self.auth(image.registry());
        self.client
            .store_auth_if_needed(target.resolve_registry(), &auth)
            .await;
        let digest_text = digest.to_string();
        let response = self
            .client
            .pull_blob_stream_partial(&target, digest_text.as_str(), offset, None)
            .await
            .map_err(|e| RegistryError::Request {
                reference: format!("{}@{digest}", image.repository()),
                message: describe_error(&e, image.registry()),
            })?;
        Ok(match response {
            BlobResponse::Partial(sized) => Download {
                resumed: true,
                stream: sized.stream,
            },
            BlobResponse::Full(sized) => Download {
                resumed: false,
                stream: sized.stream,
            },
        })
    }
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
