//! The dashboard's HTML pages: `askama` templates (in `templates/ui/`, HTML auto-escaping
//! on) and the values each renders. No I/O; rendering is proportional to one page of rows.

use super::model::ReleaseView;
use super::model::{human_bytes, utc_time, ChartRow, FileRow, ImageRow, PackageRow, Page};
use askama::Template;

/// `/ui/`: the releases served, with a health summary.
#[derive(Template)]
#[template(path = "ui/index.html")]
pub struct IndexPage<'a> {
    pub q: &'a str,
    pub p: Page<'a, ReleaseView>,
    pub uptime: String,
    pub requests: u64,
    pub errors: u64,
    pub bytes_served: String,
    pub disk_free: Option<String>,
}

/// `/ui/release/<name>/<version>`: one release's images, charts, files and packages.
#[derive(Template)]
#[template(path = "ui/release.html")]
pub struct ReleasePage<'a> {
    pub q: &'a str,
    pub r: &'a ReleaseView,
    pub images: Page<'a, ImageRow>,
    pub charts: Page<'a, ChartRow>,
    pub files: Page<'a, FileRow>,
    pub packages: Page<'a, PackageRow>,
}

/// `/ui/health`: uptime, requests by route, bytes served, disk free.
#[derive(Template)]
#[template(path = "ui/health.html")]
pub struct HealthPage {
    pub uptime: String,
    pub releases: usize,
    pub bytes_served: String,
    pub disk_free: Option<String>,
    /// `(route, requests, 4xx, 5xx)`.
    pub routes: Vec<(&'static str, u64, u64, u64)>,
}

impl ReleaseView {
    /// Load time as text, `–` when unknown.
    pub fn loaded_text(&self) -> String {
        self.loaded.map(utc_time).unwrap_or_else(|| "–".into())
    }
}

impl ImageRow {
    pub fn size_text(&self) -> String {
        self.size.map(human_bytes).unwrap_or_else(|| "–".into())
    }
}

impl FileRow {
    pub fn size_text(&self) -> String {
        human_bytes(self.size)
    }
}

/// `seconds` as `3d 4h 5m 6s`.
pub fn duration_text(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m {s}s"),
        _ => format!("{d}d {h}h {m}m {s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ui::model::page;

    fn view(name: &str) -> ReleaseView {
        ReleaseView {
            name: name.into(),
            version: "1.0.0".into(),
            index: "sha256:ab".into(),
            signer: "f00".into(),
            loaded: Some(0),
            base: None,
            verified: true,
            lock_error: None,
            carries_lock: false,
            images: vec![ImageRow {
                reference: "registry.test/a:<b>".into(),
                digest: "sha256:cd".into(),
                platforms: "linux/amd64".into(),
                size: Some(2048),
                signer: String::new(),
            }],
            charts: vec![ChartRow {
                name: "c".into(),
                version: "1".into(),
                description: "<script>alert(1)</script>".into(),
                sha256: "sha256:ef".into(),
            }],
            files: vec![FileRow {
                path: "files.test/a b#1?.bin".into(),
                url: "https://files.test/a b#1?.bin".into(),
                sha256: "sha256:01".into(),
                size: 1,
            }],
            packages: Vec::new(),
        }
    }

    #[test]
    fn release_page_escapes_what_the_bundle_says() {
        let r = view("app");
        let html = ReleasePage {
            q: "\"><script>",
            r: &r,
            images: page(&r.images, "", 1, |i| &i.reference),
            charts: page(&r.charts, "", 1, |c| &c.name),
            files: page(&r.files, "", 1, |f| &f.path),
            packages: page(&r.packages, "", 1, |d| &d.name),
        }
        .render()
        .expect("render");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&#60;script&#62;alert(1)"), "{html}");
        assert!(html.contains("registry.test/a:&#60;b&#62;"));
        assert!(html.contains("2.0 KiB"));
        // A file link is percent-encoded: `#` and `?` in a path stay part of the path.
        assert!(
            html.contains("href=\"/files/files.test/a%20b%231%3F.bin\""),
            "{html}"
        );
    }

    #[test]
    fn index_page_lists_releases_with_counts() {
        let views = vec![view("one"), view("two")];
        let html = IndexPage {
            q: "",
            p: page(&views, "", 1, |r| &r.name),
            uptime: duration_text(3661),
            requests: 3,
            errors: 0,
            bytes_served: human_bytes(0),
            disk_free: None,
        }
        .render()
        .expect("render");
        assert!(html.contains("/ui/release/one/1.0.0"));
        assert!(html.contains("/ui/release/two/1.0.0"));
        assert!(html.contains("1h 1m 1s"));
        assert!(html.contains("1970-01-01 00:00:00 UTC"));
    }
}
