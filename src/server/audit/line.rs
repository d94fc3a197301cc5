//! One audit log line: what a request was, who made it and what it was answered, rendered as
//! one JSON object on one line (JSON Lines). Pure: no I/O.

use serde::{Deserialize, Serialize};

/// One line of `serve --audit-log`. Field names are the documented log format (README,
/// "Audit log"); `outpost store report` reads them back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLine {
    /// When the request arrived: RFC 3339, UTC, milliseconds (`2026-11-30T00:14:14.123Z`).
    pub time: String,
    /// `anonymous`, a user name, or `cert:<name>` (see `Identity`).
    pub identity: String,
    /// The client's address (`ip:port`), when the connection has one.
    #[serde(default)]
    pub client: Option<String>,
    pub method: String,
    /// The route label (`manifest`, `blob`, `tags`, `files`, `apt`, `charts`, …).
    pub route: String,
    /// The repository asked for (`/v2/` routes), as the client named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The tag or digest asked for (`/v2/`), or the path below the area (`/files`, `/apt`,
    /// `/charts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The manifest or blob digest the request resolved to (`sha256:<hex>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// HTTP status answered.
    pub status: u16,
    /// Body bytes handed to the connection (an aborted download counts what went out).
    pub bytes: u64,
    /// Milliseconds from the request's arrival to the end (or abort) of its body.
    pub ms: u64,
    /// Present and true exactly for a successful manifest GET (by tag or digest): one image
    /// pull. HEADs and blob GETs never carry it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pull: bool,
}

impl AuditLine {
    /// The line, JSON without a trailing newline.
    pub fn render(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses one line written by [`AuditLine::render`]; `None` for anything else (a line cut
    /// by a crash, a blank line).
    pub fn parse(text: &str) -> Option<AuditLine> {
        serde_json::from_str(text.trim()).ok()
    }
}

/// Whether a request counts as a pull: a GET of a manifest answered 2xx.
pub fn is_pull(method: &str, route: &str, status: u16) -> bool {
    method == "GET" && route == "manifest" && (200..300).contains(&status)
}

/// `time` as the log writes it: RFC 3339 UTC with milliseconds.
pub fn format_time(time: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> AuditLine {
        AuditLine {
            time: format_time(std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_500)),
            identity: "anonymous".into(),
            client: Some("127.0.0.1:4242".into()),
            method: "GET".into(),
            route: "manifest".into(),
            repository: Some("registry.test/library/alpha".into()),
            reference: Some("1".into()),
            digest: Some(format!("sha256:{}", "a".repeat(64))),
            status: 200,
            bytes: 512,
            ms: 3,
            pull: true,
        }
    }

    #[test]
    fn a_line_is_one_json_object_with_the_documented_fields() {
        let text = line().render();
        assert!(!text.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["time"], "1970-01-01T00:00:01.500Z");
        for field in [
            "identity",
            "client",
            "method",
            "route",
            "repository",
            "reference",
            "digest",
            "status",
            "bytes",
            "ms",
            "pull",
        ] {
            assert!(value.get(field).is_some(), "{field} missing from {text}");
        }
        assert_eq!(AuditLine::parse(&text), Some(line()));
    }

    #[test]
    fn only_successful_manifest_gets_are_pulls() {
        assert!(is_pull("GET", "manifest", 200));
        assert!(!is_pull("HEAD", "manifest", 200));
        assert!(!is_pull("GET", "blob", 200));
        assert!(!is_pull("GET", "manifest", 404));
        assert!(!is_pull("GET", "manifest", 304));
        let mut not_pull = line();
        not_pull.pull = false;
        assert!(!not_pull.render().contains("pull"));
        assert_eq!(AuditLine::parse("{\"time\": \"cut"), None);
    }
}
