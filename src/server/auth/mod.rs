//! Authentication and authorisation for `serve --auth FILE`: who a request comes from
//! (Basic password, a registry token, or a client certificate) and whether the rules let it
//! read what it asks for.
//!
//! The auth file is parsed in `config`, the rules are evaluated in `policy` (pure), password
//! hashes are checked in `password`, tokens are signed and checked in `jwt`, failed logins
//! are throttled per client address in `ratelimit`, the middleware that runs on every request
//! is `layer`, and the distribution token endpoint (`/token`) is `token`.

pub mod config;
pub mod jwt;
mod layer;
pub mod password;
pub mod policy;
pub mod ratelimit;
mod token;

pub use config::{AuthConfig, AuthFileError};
pub use layer::{authenticate_and_authorise, AuthContext, RepositoryFilter};
pub use token::routes as token_routes;

use super::catalog::{Catalog, NameError};
use policy::{Resource, Subject};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Default lifetime of a registry token.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(300);
/// How long a verified password is remembered (so Basic on every request does not run
/// argon2 every time).
const VERIFIED_TTL: Duration = Duration::from_secs(60);
/// Verified passwords remembered at once.
const MAX_VERIFIED: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    File(#[from] AuthFileError),
    #[error(transparent)]
    Key(#[from] jwt::KeyError),
}

/// What `serve` needs to turn authentication on.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The auth file.
    pub file: PathBuf,
    /// Where the token-signing key is kept.
    pub state_dir: PathBuf,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
    /// `http` or `https`: the scheme of the token realm.
    pub scheme: &'static str,
}

/// The loaded auth file, the token key and the failure limiter, shared by every request.
pub struct Auth {
    pub config: AuthConfig,
    pub key: jwt::TokenKey,
    pub limiter: ratelimit::FailureLimiter,
    pub token_ttl: Duration,
    pub scheme: &'static str,
    /// A hash of the configured kind, verified against for unknown users.
    dummy_hash: String,
    /// SHA-256 of `user:password` → when it was verified.
    verified: Mutex<HashMap<String, Instant>>,
    /// Password hashes running at once: one per core.
    pub password_checks: tokio::sync::Semaphore,
}

impl Auth {
    /// Reads the auth file and the token key (created under the state directory on first use).
    pub fn load(settings: &AuthSettings) -> Result<Auth, AuthError> {
        let config = AuthConfig::load(&settings.file)?;
        let key = jwt::TokenKey::load_or_create(&settings.state_dir)?;
        Ok(Auth::new(config, key, settings.token_ttl, settings.scheme))
    }

    pub fn new(
        config: AuthConfig,
        key: jwt::TokenKey,
        token_ttl: Duration,
        scheme: &'static str,
    ) -> Auth {
        let dummy_hash = config
            .users
            .values()
            .find_map(|u| u.password.clone())
            .unwrap_or_default();
        Auth {
            config,
            key,
            limiter: ratelimit::FailureLimiter::default(),
            token_ttl,
            scheme,
            dummy_hash,
            verified: Mutex::new(HashMap::new()),
            password_checks: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
        }
    }

    /// Whether `user` / `password` is a user of the auth file. Runs in constant time with
    /// respect to the password (the hash libraries compare in constant time) and spends a
    /// dummy verification on unknown users. Blocking (argon2 takes tens of milliseconds):
    /// call from `spawn_blocking`.
    pub fn check_password(&self, user: &str, password: &str) -> bool {
        let key = crate::digest::Digest::of(format!("{user}:{password}").as_bytes())
            .hex()
            .to_string();
        let now = Instant::now();
        {
            let verified = match self.verified.lock() {
                Ok(v) => v,
                Err(poisoned) => poisoned.into_inner(),
            };
            if verified
                .get(&key)
                .is_some_and(|at| now.duration_since(*at) < VERIFIED_TTL)
            {
                return true;
            }
        }
        let ok = match self
            .config
            .users
            .get(user)
            .and_then(|u| u.password.as_deref())
        {
            Some(hash) => password::verify(password, hash),
            None => {
                password::dummy_verify(password, &self.dummy_hash);
                false
            }
        };
        if ok {
            let mut verified = match self.verified.lock() {
                Ok(v) => v,
                Err(poisoned) => poisoned.into_inner(),
            };
            if verified.len() >= MAX_VERIFIED {
                verified.retain(|_, at| now.duration_since(*at) < VERIFIED_TTL);
                if verified.len() >= MAX_VERIFIED {
                    verified.clear();
                }
            }
            verified.insert(key, now);
        }
        ok
    }

    /// The subject a client certificate with `names` (CN first, then DNS SANs) is, and the
    /// identity it is logged as.
    pub fn certificate_subject(&self, names: &[String]) -> (Subject, super::identity::Identity) {
        let user = self
            .config
            .user_for_certificate(names)
            .map(|u| u.name.clone());
        let identity = super::identity::Identity::Certificate(
            user.clone()
                .or_else(|| names.first().cloned())
                .unwrap_or_default(),
        );
        (
            Subject {
                user,
                certificate: names.to_vec(),
            },
            identity,
        )
    }

    /// Whether `subject` may pull the repository a client names `name` (with the `ns` query
    /// parameter, if any). A name that could mean several repositories is allowed only when
    /// all of them are; a name the catalog does not hold is judged as written.
    pub fn may_pull(
        &self,
        catalog: &Catalog,
        subject: &Subject,
        name: &str,
        ns: Option<&str>,
    ) -> bool {
        let policy = &self.config.policy;
        match catalog.resolve_name(name, ns) {
            Ok(full) => policy.allows(subject, Resource::Repository(full)),
            Err(NameError::Ambiguous(candidates)) => candidates
                .iter()
                .all(|c| policy.allows(subject, Resource::Repository(c))),
            Err(NameError::Unknown) => {
                let written = match ns.filter(|ns| !ns.is_empty()) {
                    Some(ns) => format!("{ns}/{name}"),
                    None => name.to_string(),
                };
                policy.allows(
                    subject,
                    Resource::Repository(&policy::normalise_glob(&written)),
                )
            }
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
