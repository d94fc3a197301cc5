//! Plain HTTP(S) downloads (Kubernetes binaries, release markers, checksum files, component
//! tarballs) with the manifest's upstream overrides (a host, optionally with a base path such
//! as an Artifactory generic remote's). Returns bytes or byte streams; checking them is the
//! caller's job, retrying them too (see `upstream::retry` and [`HttpError::is_transient`]).

use crate::manifest::Upstream;
use crate::upstream::registry::Download;
use futures::TryStreamExt;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{url}: {message}")]
    Request { url: String, message: String },
    #[error("{url}: the server answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: more than {limit} bytes (a checksum or marker file should be tiny)")]
    TooLarge { url: String, limit: usize },
}

impl HttpError {
    /// The URL the error is about.
    pub fn url(&self) -> &str {
        match self {
            HttpError::Request { url, .. }
            | HttpError::Status { url, .. }
            | HttpError::TooLarge { url, .. } => url,
        }
    }

    /// What went wrong, without the URL (for messages that name the URL already).
    pub fn detail(&self) -> String {
        let whole = self.to_string();
        whole
            .strip_prefix(self.url())
            .and_then(|rest| rest.strip_prefix(": "))
            .map_or_else(|| whole.clone(), str::to_string)
    }
}

impl crate::upstream::retry::Reason for HttpError {
    fn reason(&self) -> String {
        match self {
            HttpError::Request { message, .. } => message.clone(),
            HttpError::Status { status, .. } => format!("the server answered {status}"),
            HttpError::TooLarge { .. } => self.to_string(),
        }
    }
}

impl HttpError {
    /// Whether another attempt may succeed: a network failure (connection refused or dropped,
    /// timeout, a body cut short), a 5xx, 408 or 429. A 404 or 403 is final.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Request { .. } => true,
            HttpError::Status { status, .. } => {
                crate::upstream::registry::transient_status(*status)
            }
            HttpError::TooLarge { .. } => false,
        }
    }
}

pub struct Http {
    client: reqwest::Client,
    upstreams: BTreeMap<String, Upstream>,
}

impl Http {
    pub fn new(upstreams: BTreeMap<String, Upstream>) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(60))
            .user_agent(concat!("outpost/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Request {
                url: String::new(),
                message: e.to_string(),
            })?;
        Ok(Http { client, upstreams })
    }

    /// The URL actually fetched: scheme and host replaced by the host's upstream override,
    /// the override's base path (if any) put before the URL's path.
    pub fn target(&self, url: &str) -> String {
        let Some((_, rest)) = url.split_once("://") else {
            return url.to_string();
        };
        let (host, path) = rest
            .split_once('/')
            .map(|(h, p)| (h, format!("/{p}")))
            .unwrap_or((rest, String::new()));
        match self.upstreams.get(host) {
            Some(upstream) => {
                let scheme = if upstream.plain_http { "http" } else { "https" };
                format!(
                    "{scheme}://{}{}{path}",
                    upstream.authority,
                    upstream.url_prefix()
                )
            }
            None => url.to_string(),
        }
    }

    /// GETs `url`, from `offset` on with a Range when `offset > 0` (and only then).
    async fn send(&self, url: &str, offset: u64) -> Result<reqwest::Response, HttpError> {
        let target = self.target(url);
        let mut request = self.client.get(&target);
        if offset > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={offset}-"));
        }
        let response = request.send().await.map_err(|e| HttpError::Request {
            url: url.to_string(),
            message: describe(&e),
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(HttpError::Status {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        Ok(response)
    }

    /// A small document (checksum file, release marker), at most `limit` bytes.
    pub async fn get_small(&self, url: &str, limit: usize) -> Result<Vec<u8>, HttpError> {
        let response = self.send(url, 0).await?;
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.try_next().await.map_err(|e| HttpError::Request {
            url: url.to_string(),
            message: describe(&e),
        })? {
            body.extend_from_slice(&chunk);
            if body.len() > limit {
                return Err(HttpError::TooLarge {
                    url: url.to_string(),
                    limit,
                });
            }
        }
        Ok(body)
    }

    /// The first `len` bytes of `url` (fewer when it is shorter): asked for with a Range, and
    /// cut at `len` when the server ignores it and sends the whole file.
    pub async fn get_prefix(&self, url: &str, len: usize) -> Result<Vec<u8>, HttpError> {
        let target = self.target(url);
        let last = len.saturating_sub(1);
        let response = self
            .client
            .get(&target)
            .header(reqwest::header::RANGE, format!("bytes=0-{last}"))
            .send()
            .await
            .map_err(|e| HttpError::Request {
                url: url.to_string(),
                message: describe(&e),
            })?;
        if !response.status().is_success() {
            return Err(HttpError::Status {
                url: url.to_string(),
                status: response.status().as_u16(),
            });
        }
        let mut body = Vec::with_capacity(len.min(1 << 20));
        let mut stream = response.bytes_stream();
        while body.len() < len {
            let Some(chunk) = stream.try_next().await.map_err(|e| HttpError::Request {
                url: url.to_string(),
                message: describe(&e),
            })?
            else {
                break;
            };
            let take = chunk.len().min(len - body.len());
            body.extend_from_slice(&chunk[..take]);
        }
        Ok(body)
    }

    /// The bytes of `url` from `offset` on: a Range only to resume (`offset > 0`). A resume
    /// the server ignores (200) or refuses (a 4xx such as 416 or 400) comes whole from byte 0
    /// instead ([`Download::resumed`] is false); nothing here checks the bytes.
    pub async fn stream(&self, url: &str, offset: u64) -> Result<Download, HttpError> {
        let mut resume_refused = None;
        let response = match self.send(url, offset).await {
            Ok(response) => response,
            Err(e) if offset > 0 && !e.is_transient() => {
                resume_refused = Some(e.to_string());
                self.send(url, 0).await?
            }
            Err(e) => return Err(e),
        };
        let resumed = offset > 0 && response.status() == reqwest::StatusCode::PARTIAL_CONTENT;
        let stream = response.bytes_stream().map_err(std::io::Error::other);
        Ok(Download {
            resumed,
            verified: false,
            resume_refused,
            stream: Box::pin(stream),
        })
    }
}

fn describe(error: &reqwest::Error) -> String {
    crate::errors::chain(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detail_leaves_the_url_out() {
        let error = HttpError::Status {
            url: "http://h.test/a".into(),
            status: 404,
        };
        assert_eq!(
            error.to_string(),
            "http://h.test/a: the server answered 404"
        );
        assert_eq!(error.detail(), "the server answered 404");
        assert_eq!(error.url(), "http://h.test/a");
    }

    #[test]
    fn overrides_replace_scheme_and_host_only() {
        let upstreams = BTreeMap::from([(
            "dl.k8s.io".to_string(),
            Upstream {
                authority: "127.0.0.1:8081".into(),
                plain_http: true,
                path: String::new(),
            },
        )]);
        let http = Http::new(upstreams).unwrap();
        assert_eq!(
            http.target("https://dl.k8s.io/release/stable.txt"),
            "http://127.0.0.1:8081/release/stable.txt"
        );
        assert_eq!(
            http.target("https://github.com/a/b"),
            "https://github.com/a/b"
        );
    }

    #[test]
    fn a_base_path_goes_before_the_upstream_path() {
        let upstream = crate::manifest::parse_upstream(
            "https://artifactory.corp/artifactory/api/generic/dl-k8s/",
        )
        .unwrap();
        let http = Http::new(BTreeMap::from([("dl.k8s.io".to_string(), upstream)])).unwrap();
        assert_eq!(
            http.target("https://dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubelet"),
            "https://artifactory.corp/artifactory/api/generic/dl-k8s/release/v1.31.2/bin/linux/amd64/kubelet"
        );
    }
}
