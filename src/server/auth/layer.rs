//! The middleware every request passes when `--auth` is on: it authenticates the request
//! (Basic password, `Authorization: Bearer` registry token, or the connection's client
//! certificate), decides by the rules whether it may read what it asks for, attaches the
//! [`Identity`] to the request and to the response, or answers 401 (with the challenge),
//! 403 or 429 itself. `/healthz` and `/token` pass through (the token endpoint
//! authenticates on its own).
//!
//! Refusals on `/v2/…`: no credentials (or a certificate the rules do not allow) → 401 with
//! `WWW-Authenticate: Bearer realm=…,service=…,scope="repository:NAME:pull"`; a token that
//! does not grant this repository → 401 with `error="insufficient_scope"` (as the token
//! specification says); a Basic user the rules refuse → 403 `DENIED`. Elsewhere: 401 with
//! `WWW-Authenticate: Basic`, or 403 for a user the rules refuse.

use super::jwt::{Claims, TokenError};
use super::policy::{Resource, Subject};
use super::{unix_now, Auth};
use crate::server::access::RouteLabel;
use crate::server::client_cert::ClientCertificate;
use crate::server::error::OciError;
use crate::server::identity::Identity;
use crate::server::path::{self, Route};
use crate::server::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the middleware and the token endpoint share.
#[derive(Clone)]
pub struct AuthContext {
    pub app: Arc<AppState>,
    pub auth: Arc<Auth>,
}

/// Which repositories `/v2/_catalog` may list for this request (set by the middleware).
#[derive(Clone)]
pub struct RepositoryFilter(pub Arc<dyn Fn(&str) -> bool + Send + Sync>);

/// What the rules say about a request.
enum Decision {
    /// Let it through (with the catalog filter for `/v2/_catalog`).
    Pass(Option<RepositoryFilter>),
    /// Answer this instead.
    Refuse(Response),
}

/// How the request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Presented {
    Nothing,
    Certificate,
    Password,
    Token,
}

/// An authenticated request.
pub(super) struct Authenticated {
    pub subject: Subject,
    pub identity: Identity,
    pub presented: Presented,
    pub claims: Option<Arc<Claims>>,
}

/// Why authentication failed.
#[derive(Debug)]
pub(super) enum Refusal {
    /// Too many failures from this address: retry after.
    Limited(Duration),
    BadPassword,
    BadToken(TokenError),
    Malformed,
}

/// The middleware (see the module doc).
pub async fn authenticate_and_authorise(
    State(ctx): State<AuthContext>,
    mut request: Request,
    next: Next,
) -> Response {
    // HTTP/2 carries the host in `:authority`, not in a Host header: the token realm and
    // service are the host the client reached either way.
    if !request.headers().contains_key(header::HOST) {
        if let Some(authority) = request
            .uri()
            .authority()
            .and_then(|a| header::HeaderValue::from_str(a.as_str()).ok())
        {
            request.headers_mut().insert(header::HOST, authority);
        }
    }
    let path = request.uri().path().to_string();
    if path == "/healthz" || path == "/token" {
        request.extensions_mut().insert(Identity::Anonymous);
        let mut response = next.run(request).await;
        if response.extensions().get::<Identity>().is_none() {
            response.extensions_mut().insert(Identity::Anonymous);
        }
        return response;
    }
    let registry = path == "/v2" || path.starts_with("/v2/");
    let host = service_host(request.headers());
    let client = client_ip(&request);
    let certificate = request
        .extensions()
        .get::<ClientCertificate>()
        .and_then(|c| c.0.clone());
    let who = match authenticate(&ctx.auth, request.headers(), certificate, client).await {
        Ok(who) => who,
        Err(refusal) => {
            tarpit(&refusal).await;
            let challenge = if registry {
                bearer_challenge(&ctx.auth, &host, None, refusal_error(&refusal))
            } else {
                basic_challenge()
            };
            return RouteLabel::AUTH.on(refusal_response(&refusal, challenge));
        }
    };
    let decision = if registry {
        authorise_registry(&ctx, &who, &path, request.uri().query(), &host)
    } else {
        authorise_path(&ctx.auth, &who, &path)
    };
    match decision {
        Decision::Refuse(response) => {
            let mut response = RouteLabel::AUTH.on(response);
            response.extensions_mut().insert(who.identity);
            response
        }
        Decision::Pass(filter) => {
            if let Some(filter) = filter {
                request.extensions_mut().insert(filter);
            }
            request.extensions_mut().insert(who.identity.clone());
            let mut response = next.run(request).await;
            response.extensions_mut().insert(who.identity);
            response
        }
    }
}

/// Who the request is: a Basic password (checked, rate-limited per address), a bearer token
/// (checked), the client certificate, or no one.
pub(super) async fn authenticate(
    auth: &Arc<Auth>,
    headers: &HeaderMap,
    certificate: Option<Arc<Vec<String>>>,
    client: IpAddr,
) -> Result<Authenticated, Refusal> {
    let (mut subject, mut identity, mut presented) = match &certificate {
        Some(names) => {
            let (subject, identity) = auth.certificate_subject(names);
            (subject, identity, Presented::Certificate)
        }
        None => (
            Subject::anonymous(),
            Identity::Anonymous,
            Presented::Nothing,
        ),
    };
    let mut claims = None;
    match authorization(headers) {
        Authorization::None => {}
        Authorization::Malformed => return Err(Refusal::Malformed),
        Authorization::Basic { user, password } => {
            login(auth, &user, &password, client).await?;
            subject.user = Some(user.clone());
            identity = Identity::User(user);
            presented = Presented::Password;
        }
        Authorization::Bearer(token) => {
            let service = service_host(headers);
            let now = unix_now();
            // A token whose signature already held skips the limiter (no lock per request).
            let verified = match auth.key.cached(&token, &service, now) {
                Some(result) => result,
                None => {
                    auth.limiter
                        .take(client, Instant::now())
                        .map_err(Refusal::Limited)?;
                    let verified = auth.key.verify_cached(&token, &service, now);
                    if verified.is_ok() {
                        auth.limiter.give_back(client, Instant::now());
                    }
                    verified
                }
            };
            // A refresh token is never an access token, whatever Host the client sent.
            let verified = verified.and_then(|claims| {
                if claims.aud.starts_with(super::token::REFRESH_AUDIENCE) {
                    Err(crate::server::auth::jwt::TokenError::Audience(
                        claims.aud.clone(),
                    ))
                } else {
                    Ok(claims)
                }
            });
            match verified {
                Ok(verified) => {
                    (subject, identity) = subject_of_token(&verified.sub);
                    claims = Some(verified);
                    presented = Presented::Token;
                }
                Err(e) => {
                    tracing::info!(target: "outpost::auth", %client, reason = %e, "token refused");
                    return Err(Refusal::BadToken(e));
                }
            }
        }
    }
    Ok(Authenticated {
        subject,
        identity,
        presented,
        claims,
    })
}

/// Checks `user`/`password` (rate-limited per client address; argon2 runs off the async
/// threads).
pub(super) async fn login(
    auth: &Arc<Auth>,
    user: &str,
    password: &str,
    client: IpAddr,
) -> Result<(), Refusal> {
    auth.limiter
        .take(client, Instant::now())
        .map_err(Refusal::Limited)?;
    // At most one password hash per core at once (argon2 takes 19 MiB each): a flood of
    // guesses from many addresses waits here instead of taking the memory and the CPU.
    let Ok(_permit) = auth.password_checks.acquire().await else {
        return Err(Refusal::BadPassword);
    };
    let (checker, u, p) = (auth.clone(), user.to_string(), password.to_string());
    let ok = tokio::task::spawn_blocking(move || checker.check_password(&u, &p))
        .await
        .unwrap_or(false);
    if ok {
        auth.limiter.give_back(client, Instant::now());
        Ok(())
    } else {
        tracing::info!(target: "outpost::auth", %client, user, "wrong user name or password");
        Err(Refusal::BadPassword)
    }
}

/// The subject and identity a token's `sub` names.
pub(super) fn subject_of_token(sub: &str) -> (Subject, Identity) {
    match sub.strip_prefix("cert:") {
        Some(cn) => (
            Subject {
                user: None,
                certificate: vec![cn.to_string()],
            },
            Identity::Certificate(cn.to_string()),
        ),
        None => (Subject::user(sub), Identity::User(sub.to_string())),
    }
}

fn authorise_registry(
    ctx: &AuthContext,
    who: &Authenticated,
    path: &str,
    query: Option<&str>,
    host: &str,
) -> Decision {
    let rest = path
        .strip_prefix("/v2/")
        .or_else(|| path.strip_prefix("/v2"))
        .unwrap_or("");
    let Ok(route) = path::parse(rest) else {
        // The handler answers a path that is not a route (400/404, no content).
        return Decision::Pass(None);
    };
    let auth = &ctx.auth;
    let name = match route {
        Route::Base => {
            if who.presented != Presented::Nothing
                || auth.config.policy.allows_any_repository(&who.subject)
            {
                return Decision::Pass(None);
            }
            return Decision::Refuse(unauthorized(bearer_challenge(auth, host, None, None)));
        }
        Route::Catalog => {
            let (policy_auth, subject) = (auth.clone(), who.subject.clone());
            return Decision::Pass(Some(RepositoryFilter(Arc::new(move |full: &str| {
                policy_auth
                    .config
                    .policy
                    .allows(&subject, Resource::Repository(full))
            }))));
        }
        Route::Tags { name }
        | Route::Manifest { name, .. }
        | Route::Blob { name, .. }
        | Route::Referrers { name, .. }
        | Route::Upload { name } => name,
    };
    if let Some(claims) = &who.claims {
        if claims.may_pull(&name) {
            return Decision::Pass(None);
        }
        return Decision::Refuse(unauthorized(bearer_challenge(
            auth,
            host,
            Some(&name),
            Some("insufficient_scope"),
        )));
    }
    let mut namespaces = query
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .filter(|(k, _)| k == "ns")
        .map(|(_, v)| v.into_owned());
    let ns = namespaces.next();
    if namespaces.next().is_some() {
        // The handler would serve another `ns` than the one checked here.
        return Decision::Refuse(
            OciError::new(StatusCode::BAD_REQUEST, "NAME_INVALID", "give `ns` once")
                .into_response(),
        );
    }
    if auth.may_pull(&ctx.app.catalog(), &who.subject, &name, ns.as_deref()) {
        return Decision::Pass(None);
    }
    if who.presented == Presented::Password {
        Decision::Refuse(denied(&name))
    } else {
        Decision::Refuse(unauthorized(bearer_challenge(
            auth,
            host,
            Some(&name),
            None,
        )))
    }
}

fn authorise_path(auth: &Auth, who: &Authenticated, path: &str) -> Decision {
    // Rules match the path the handlers serve: percent-decoded once, as they decode it
    // (`/files/privat%65/x` is `/files/private/x`).
    let decoded = crate::server::mirror::percent_decode(path).ok();
    if let Some(decoded) = &decoded {
        if auth
            .config
            .policy
            .allows(&who.subject, Resource::Path(decoded))
        {
            return Decision::Pass(None);
        }
    }
    match who.presented {
        Presented::Password | Presented::Token => Decision::Refuse(denied(path)),
        Presented::Nothing | Presented::Certificate => {
            Decision::Refuse(unauthorized(basic_challenge()))
        }
    }
}

enum Authorization {
    None,
    Malformed,
    Basic { user: String, password: String },
    Bearer(String),
}

fn authorization(headers: &HeaderMap) -> Authorization {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Authorization::None;
    };
    let Ok(value) = value.to_str() else {
        return Authorization::Malformed;
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        basic_credentials(rest)
            .map(|(user, password)| Authorization::Basic { user, password })
            .unwrap_or(Authorization::Malformed)
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Authorization::Bearer(rest.to_string())
    } else {
        Authorization::Malformed
    }
}

/// `base64(user:password)` → (user, password).
pub(super) fn basic_credentials(encoded: &str) -> Option<(String, String)> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The client's address (from the connection; unspecified when serving without one, as in
/// unit tests).
pub(super) fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The `Host` the client reached this server by (the token service and realm host), limited
/// to the characters of a host and port.
pub(super) fn service_host(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let clean: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']' | '_'))
        .take(255)
        .collect();
    if clean.is_empty() {
        "localhost".into()
    } else {
        clean
    }
}

fn bearer_challenge(auth: &Auth, host: &str, name: Option<&str>, error: Option<&str>) -> String {
    let mut challenge = format!(
        "Bearer realm=\"{}://{host}/token\",service=\"{host}\"",
        auth.scheme
    );
    if let Some(name) = name {
        challenge.push_str(&format!(",scope=\"repository:{name}:pull\""));
    }
    if let Some(error) = error {
        challenge.push_str(&format!(",error=\"{error}\""));
    }
    challenge
}

pub(super) fn basic_challenge() -> String {
    "Basic realm=\"outpost\", charset=\"UTF-8\"".into()
}

fn refusal_error(refusal: &Refusal) -> Option<&'static str> {
    match refusal {
        Refusal::BadToken(_) => Some("invalid_token"),
        _ => None,
    }
}

/// How long a rate-limited request waits before its 429: a client that keeps guessing on
/// one connection gets [`TARPIT`]⁻¹ answers a second at most, so it cannot take the CPU
/// from other clients by being refused quickly.
pub const TARPIT: Duration = Duration::from_millis(50);

/// Waits [`TARPIT`] when `refusal` is the rate limit.
pub(super) async fn tarpit(refusal: &Refusal) {
    if matches!(refusal, Refusal::Limited(_)) {
        tokio::time::sleep(TARPIT).await;
    }
}

/// The response to a failed authentication: 429 with `Retry-After`, or 401 with `challenge`.
pub(super) fn refusal_response(refusal: &Refusal, challenge: String) -> Response {
    match refusal {
        Refusal::Limited(retry) => {
            let mut response = OciError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOOMANYREQUESTS",
                "too many failed authentications from this address; retry later",
            )
            .into_response();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry.as_secs().max(1)),
            );
            response
        }
        Refusal::BadPassword => with_challenge(
            OciError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "wrong user name or password",
            ),
            challenge,
        ),
        Refusal::BadToken(e) => with_challenge(
            OciError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", e.to_string()),
            challenge,
        ),
        Refusal::Malformed => with_challenge(
            OciError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "the Authorization header is neither Basic user:password nor a Bearer token",
            ),
            challenge,
        ),
    }
}

fn unauthorized(challenge: String) -> Response {
    with_challenge(
        OciError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        ),
        challenge,
    )
}

fn denied(what: &str) -> Response {
    OciError::new(
        StatusCode::FORBIDDEN,
        "DENIED",
        format!("requested access to {what} is denied"),
    )
    .with_detail(serde_json::json!({"name": what}))
    .into_response()
}

fn with_challenge(error: OciError, challenge: String) -> Response {
    let mut response = error.into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
