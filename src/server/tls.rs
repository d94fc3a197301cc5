//! TLS for `serve`: the user's certificate, or `--tls auto`, which creates a site CA once
//! (kept under the state directory, to be distributed to nodes) and a server certificate for
//! the given host names and IP addresses, signed by it, at every start.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// A certificate chain and its private key, PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What `--tls auto` produced.
#[derive(Debug, Clone)]
pub struct AutoTls {
    pub files: TlsFiles,
    /// The site CA certificate nodes must trust.
    pub ca: PathBuf,
    /// Whether the CA was created now (rather than reused).
    pub ca_created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create certificates: {0}")]
    Generate(String),
    #[error("{path} is not a usable CA key ({message}); move the state directory's ca.* files away to create a new site CA")]
    BadCaKey { path: PathBuf, message: String },
}

const CA_NAME: &str = "outpost site CA";

fn ca_params() -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_NAME);
    name.push(DnType::OrganizationName, "outpost");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

fn write_private(path: &Path, text: &str) -> Result<(), TlsError> {
    crate::fsutil::write_atomic(path, text.as_bytes()).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        TlsError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

fn write_public(path: &Path, text: &str) -> Result<(), TlsError> {
    crate::fsutil::write_atomic(path, text.as_bytes()).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates (once) the site CA in `state_dir` and a fresh server certificate for `names`
/// (DNS names or IP addresses).
pub fn auto(state_dir: &Path, names: &[String]) -> Result<AutoTls, TlsError> {
    std::fs::create_dir_all(state_dir).map_err(|source| TlsError::Io {
        path: state_dir.to_path_buf(),
        source,
    })?;
    let ca_cert_path = state_dir.join("ca.crt");
    let ca_key_path = state_dir.join("ca.key");
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let (ca_key, ca_created) = if ca_cert_path.exists() && ca_key_path.exists() {
        let pem = std::fs::read_to_string(&ca_key_path).map_err(|source| TlsError::Io {
            path: ca_key_path.clone(),
            source,
        })?;
        let key = KeyPair::from_pem(&pem).map_err(|e| TlsError::BadCaKey {
            path: ca_key_path.clone(),
            message: e.to_string(),
        })?;
        (key, false)
    } else {
        let key = KeyPair::generate().map_err(generate)?;
        let cert = ca_params()?.self_signed(&key).map_err(generate)?;
        write_private(&ca_key_path, &key.serialize_pem())?;
        write_public(&ca_cert_path, &cert.pem())?;
        (key, true)
    };
    let issuer = Issuer::new(ca_params()?, ca_key);

    let mut names: Vec<String> = names.to_vec();
    if names.is_empty() {
        names = vec!["localhost".into(), "127.0.0.1".into()];
    }
    let mut params = CertificateParams::new(names.clone()).map_err(generate)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, names[0].clone());
    params.distinguished_name = name;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().map_err(generate)?;
    let server_cert = params.signed_by(&server_key, &issuer).map_err(generate)?;
    let cert = state_dir.join("server.crt");
    let key = state_dir.join("server.key");
    write_public(&cert, &server_cert.pem())?;
    write_private(&key, &server_key.serialize_pem())?;
    Ok(AutoTls {
        files: TlsFiles { cert, key },
        ca: ca_cert_path,
        ca_created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = auto(dir.path(), &["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert!(first.ca_created);
        let ca = std::fs::read(&first.ca).unwrap();
        let second = auto(dir.path(), &["mirror.site".into()]).unwrap();
        assert!(!second.ca_created);
        assert_eq!(std::fs::read(&second.ca).unwrap(), ca);
        assert!(std::fs::read_to_string(&second.files.cert)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
