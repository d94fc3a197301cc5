//! The distribution token endpoint, `/token` (https://distribution.github.io/distribution/spec/auth/token/,
//! `/jwt/` and `/oauth/`).
//!
//! `GET /token?service=S&scope=repository:NAME:pull&scope=…&account=U` with Basic
//! credentials, a client certificate or nothing (anonymous), and the OAuth2 form
//! `POST /token` (`grant_type=password` with `username`/`password`, or
//! `grant_type=refresh_token` with `refresh_token`; `scope` space-separated) answer
//! `{"token","access_token","expires_in","issued_at"}` (and `refresh_token` for
//! `access_type=offline` / `offline_token=true`). The token grants `pull` on exactly the
//! requested repositories the rules allow the caller (possibly none); errors are
//! `{"errors":[{"code":…}]}`.

use super::jwt::{Access, Claims};
use super::layer::{
    authenticate, basic_challenge, client_ip, login, refusal_response, service_host,
    subject_of_token, AuthContext, Refusal,
};
use super::policy::Subject;
use super::unix_now;
use crate::server::access::RouteLabel;
use crate::server::client_cert::ClientCertificate;
use crate::server::error::OciError;
use crate::server::identity::Identity;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Largest POST form read, bytes.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// Scopes honoured in one request.
const MAX_SCOPES: usize = 64;
/// Lifetime of a refresh token, seconds.
const REFRESH_TTL_SECS: i64 = 24 * 3600;
/// Prefix of a refresh token's audience, so it is never accepted as an access token.
pub(super) const REFRESH_AUDIENCE: &str = "refresh:";

/// `GET` and `POST` `/token`.
pub fn routes<S>(ctx: AuthContext) -> Router<S> {
    Router::new()
        .route("/token", get(handle).post(handle))
        .with_state(ctx)
}

async fn handle(State(ctx): State<AuthContext>, request: Request) -> Response {
    let response = match issue(&ctx, request).await {
        Ok((response, identity)) => {
            let mut response = response;
            response.extensions_mut().insert(identity);
            response
        }
        Err(response) => {
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                tokio::time::sleep(super::layer::TARPIT).await;
            }
            response
        }
    };
    RouteLabel::TOKEN.on(response)
}

fn form(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

fn first<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

async fn issue(ctx: &AuthContext, request: Request) -> Result<(Response, Identity), Response> {
    let auth = &ctx.auth;
    let client = client_ip(&request);
    let host = service_host(request.headers());
    let certificate = request
        .extensions()
        .get::<ClientCertificate>()
        .and_then(|c| c.0.clone());
    let refused = |refusal: Refusal| refusal_response(&refusal, basic_challenge());
    let post = request.method() == Method::POST;
    let (params, scopes, subject, identity) = if post {
        let body = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| bad_request(&format!("the form is larger than {MAX_FORM_BYTES} bytes")))?;
        let params = form(&String::from_utf8_lossy(&body));
        let scopes: Vec<String> = params
            .iter()
            .filter(|(k, _)| k == "scope")
            .flat_map(|(_, v)| v.split(' ').map(String::from).collect::<Vec<_>>())
            .collect();
        let (subject, identity) = match first(&params, "grant_type") {
            Some("password") => {
                let (Some(user), Some(password)) =
                    (first(&params, "username"), first(&params, "password"))
                else {
                    return Err(bad_request(
                        "grant_type=password needs username and password",
                    ));
                };
                login(auth, user, password, client).await.map_err(refused)?;
                (Subject::user(user), Identity::User(user.to_string()))
            }
            Some("refresh_token") => {
                let Some(refresh) = first(&params, "refresh_token") else {
                    return Err(bad_request("grant_type=refresh_token needs refresh_token"));
                };
                auth.limiter
                    .take(client, std::time::Instant::now())
                    .map_err(|r| refused(Refusal::Limited(r)))?;
                let service = first(&params, "service").unwrap_or(&host);
                let claims = auth
                    .key
                    .verify(refresh, &format!("{REFRESH_AUDIENCE}{service}"), unix_now())
                    .map_err(|e| refused(Refusal::BadToken(e)))?;
                auth.limiter.give_back(client, std::time::Instant::now());
                subject_of_token(&claims.sub)
            }
            Some(other) => {
                return Err(bad_request(&format!(
                    "unsupported grant_type `{other}`: use password or refresh_token"
                )))
            }
            None => {
                return Err(bad_request(
                    "grant_type is missing (password or refresh_token)",
                ))
            }
        };
        (params, scopes, subject, identity)
    } else {
        let params = form(request.uri().query().unwrap_or(""));
        let scopes: Vec<String> = params
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect();
        let who = authenticate(auth, request.headers(), certificate, client)
            .await
            .map_err(refused)?;
        if who.claims.is_some() {
            return Err(bad_request("a token cannot be exchanged for a token: log in with a password or a client certificate"));
        }
        (params, scopes, who.subject, who.identity)
    };
    let service = first(&params, "service").unwrap_or(&host).to_string();
    if service.starts_with(REFRESH_AUDIENCE) {
        return Err(bad_request("`service` names this mirror's host[:port]"));
    }
    let catalog = ctx.app.catalog();
    let mut access: Vec<Access> = Vec::new();
    for scope in scopes.iter().filter(|s| !s.is_empty()).take(MAX_SCOPES) {
        let Some((kind, name, actions)) = parse_scope(scope) else {
            continue;
        };
        if kind != "repository" || !actions.split(',').any(|a| a == "pull" || a == "*") {
            continue;
        }
        if access.iter().any(|a| a.name == name) {
            continue;
        }
        if auth.may_pull(&catalog, &subject, name, None) {
            access.push(Access {
                kind: "repository".into(),
                name: name.to_string(),
                actions: vec!["pull".into()],
            });
        }
    }
    let sub = match (&subject.user, subject.certificate.first()) {
        (Some(user), _) => user.clone(),
        (None, Some(cn)) => format!("cert:{cn}"),
        (None, None) => "anonymous".into(),
    };
    let now = unix_now();
    let ttl = auth.token_ttl.as_secs().max(1) as i64;
    let claims = Claims {
        iss: "outpost".into(),
        sub: sub.clone(),
        aud: service.clone(),
        exp: now + ttl,
        nbf: now,
        iat: now,
        jti: hex::encode(rand::random::<[u8; 16]>()),
        access,
    };
    let failed = |e: crate::server::auth::jwt::TokenError| {
        tracing::error!(target: "outpost::auth", error = %e, "token not issued");
        OciError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            "the token could not be signed",
        )
        .into_response()
    };
    let token = auth.key.sign(&claims).map_err(failed)?;
    let mut body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": ttl,
        "issued_at": rfc3339(now),
    });
    let offline = first(&params, "access_type") == Some("offline")
        || first(&params, "offline_token") == Some("true");
    if offline && sub != "anonymous" {
        let refresh = Claims {
            aud: format!("{REFRESH_AUDIENCE}{service}"),
            exp: now + REFRESH_TTL_SECS,
            access: Vec::new(),
            jti: hex::encode(rand::random::<[u8; 16]>()),
            ..claims
        };
        body["refresh_token"] = serde_json::Value::String(auth.key.sign(&refresh).map_err(failed)?);
    }
    let response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    Ok((response, identity))
}

/// `TYPE:NAME:ACTIONS`, where NAME may hold `:` (`host:5000/app`).
pub fn parse_scope(scope: &str) -> Option<(&str, &str, &str)> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    if name.is_empty() || name.len() > 512 {
        return None;
    }
    Some((kind, name, actions))
}

fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn bad_request(message: &str) -> Response {
    OciError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED", message.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_may_name_host_port_repositories() {
        assert_eq!(
            parse_scope("repository:registry.test/library/alpha:pull"),
            Some(("repository", "registry.test/library/alpha", "pull"))
        );
        assert_eq!(
            parse_scope("repository:mirror:5000/team-a/app:pull,push"),
            Some(("repository", "mirror:5000/team-a/app", "pull,push"))
        );
        assert_eq!(parse_scope("repository"), None);
        assert_eq!(parse_scope("repository::pull"), None);
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
