//! Client certificates (mTLS): the rustls server configuration that asks for a certificate
//! from `--client-ca` (required with `--require-client-cert`, optional otherwise), and the
//! acceptor that reads the verified peer certificate of each connection and attaches its
//! names (CN, then DNS SANs) to every request on it as a [`ClientCertificate`].

use axum_server::accept::{Accept, DefaultAcceptor};
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use futures::future::BoxFuture;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tower_http::add_extension::AddExtension;
use x509_cert::der::Decode as _;
use x509_cert::ext::pkix::{name::GeneralName, SubjectAltName};

/// The names of the verified client certificate of a connection (CN first, then DNS SANs);
/// `None` when the client sent none.
#[derive(Debug, Clone, Default)]
pub struct ClientCertificate(pub Option<Arc<Vec<String>>>);

#[derive(Debug, thiserror::Error)]
pub enum ClientCaError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("--client-ca {path}: {message}")]
    Verifier { path: PathBuf, message: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// How connections are verified: `--client-ca`, and whether a certificate is required.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    pub ca: PathBuf,
    pub required: bool,
}

/// A rustls server configuration for `cert`/`key` (PEM) that asks for client certificates
/// as `client` says (none asked for when `client` is `None`), with ALPN h2 and http/1.1.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client: Option<&ClientAuth>,
) -> Result<RustlsConfig, ClientCaError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certs = read_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| ClientCaError::Pem {
        path: key.to_path_buf(),
        message: e.to_string(),
    })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientCaError::Config(e.to_string()))?;
    let builder = match client {
        None => builder.with_no_client_auth(),
        Some(client) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in read_certs(&client.ca)? {
                roots.add(ca).map_err(|e| ClientCaError::Verifier {
                    path: client.ca.clone(),
                    message: e.to_string(),
                })?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let verifier = if client.required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier.build().map_err(|e| ClientCaError::Verifier {
                path: client.ca.clone(),
                message: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| ClientCaError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientCaError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ClientCaError::Pem {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(ClientCaError::Pem {
            path: path.to_path_buf(),
            message: "no PEM certificate in it".into(),
        });
    }
    Ok(certs)
}

/// The CN and DNS SANs of a DER certificate (empty when it cannot be parsed).
pub fn names_of(der: &[u8]) -> Vec<String> {
    let Ok(cert) = x509_cert::Certificate::from_der(der) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    if let Ok(Some(cn)) = cert.tbs_certificate().subject().common_name() {
        names.push(String::from(cn));
    }
    if let Ok(Some((_, san))) = cert.tbs_certificate().get_extension::<SubjectAltName>() {
        for name in san.0 {
            if let GeneralName::DnsName(dns) = name {
                let dns = dns.to_string();
                if !names.contains(&dns) {
                    names.push(dns);
                }
            }
        }
    }
    names.retain(|n| !n.is_empty() && !n.chars().any(char::is_control));
    names
}

/// A TLS acceptor that attaches the client certificate's names to every request of the
/// connection.
#[derive(Clone)]
pub struct ClientCertAcceptor {
    inner: RustlsAcceptor<DefaultAcceptor>,
}

impl ClientCertAcceptor {
    pub fn new(config: RustlsConfig) -> Self {
        ClientCertAcceptor {
            inner: RustlsAcceptor::new(config),
        }
    }
}

impl<I, S> Accept<I, S> for ClientCertAcceptor
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Send + 'static,
{
    type Stream = tokio_rustls::server::TlsStream<I>;
    type Service = AddExtension<S, ClientCertificate>;
    type Future = BoxFuture<'static, std::io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let accepting = self.inner.accept(stream, service);
        Box::pin(async move {
            let (stream, service) = accepting.await?;
            let names = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|leaf| Arc::new(names_of(leaf.as_ref())));
            Ok((stream, AddExtension::new(service, ClientCertificate(names))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_cn_then_dns_sans() {
        let mut params =
            rcgen::CertificateParams::new(vec!["node1.site.example".into(), "node1".into()])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "node1.site.example");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            names_of(cert.der()),
            vec!["node1.site.example".to_string(), "node1".to_string()]
        );
        assert!(names_of(b"not a certificate").is_empty());
    }
}
