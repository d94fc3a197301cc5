//! Package URLs (purl spec, <https://github.com/package-url/purl-spec>) for what a bundle
//! carries: `pkg:oci` images and OCI charts, `pkg:helm` charts from chart repositories,
//! `pkg:generic` files and `pkg:deb/debian` packages. Pure string building.

use crate::digest::Digest;
use crate::lock::{ChartPin, DebPin, FilePin, ImagePin};

/// Percent-encodes `text` as the purl spec asks: unreserved characters (`A-Z a-z 0-9 . - _ ~`)
/// and those in `keep` stay, every other byte becomes `%XX` (upper-case hex).
fn encode(text: &str, keep: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let c = byte as char;
        if c.is_ascii_alphanumeric() || ".-_~".contains(c) || (c.is_ascii() && keep.contains(c)) {
            out.push(c);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`, qualifiers sorted by key and empty values
/// left out (the canonical form).
fn build(
    kind: &str,
    namespace: &[&str],
    name: &str,
    version: Option<&str>,
    qualifiers: &[(&str, String)],
) -> String {
    let mut purl = format!("pkg:{kind}/");
    for segment in namespace.iter().filter(|s| !s.is_empty()) {
        purl.push_str(&encode(segment, ""));
        purl.push('/');
    }
    purl.push_str(&encode(name, ""));
    if let Some(version) = version {
        purl.push('@');
        purl.push_str(&encode(version, ""));
    }
    let mut pairs: Vec<&(&str, String)> =
        qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    pairs.sort_by_key(|(k, _)| *k);
    for (i, (key, value)) in pairs.iter().enumerate() {
        purl.push(if i == 0 { '?' } else { '&' });
        purl.push_str(key);
        purl.push('=');
        purl.push_str(&encode(value, ":/"));
    }
    purl
}

/// An OCI artifact's purl: `pkg:oci/<last path segment>@sha256%3A<hex>?arch=…&repository_url=
/// <registry>/<repository>&tag=<tag>` (the purl `oci` type; the name is lower case).
/// `reference` is the full reference as locked; one that does not parse keeps only its text
/// as the name.
pub fn oci(reference: &str, digest: &Digest, arch: Option<&str>) -> String {
    let (name, repository_url, tag) = match crate::reference::parse(reference) {
        Ok(r) => {
            let repository = r.repository().to_string();
            let name = repository
                .rsplit('/')
                .next()
                .unwrap_or(&repository)
                .to_lowercase();
            (
                name,
                format!("{}/{}", r.registry(), repository),
                r.tag().map(str::to_string),
            )
        }
        Err(_) => (reference.to_lowercase(), String::new(), None),
    };
    build(
        "oci",
        &[],
        &name,
        Some(&digest.to_string()),
        &[
            ("arch", arch.unwrap_or_default().to_string()),
            ("repository_url", repository_url),
            ("tag", tag.unwrap_or_default()),
        ],
    )
}

/// An image's purl (its index or manifest digest).
pub fn image(pin: &ImagePin) -> String {
    oci(&pin.reference, &pin.digest, None)
}

/// A chart's purl: `pkg:oci/…` for one from an OCI registry (its manifest digest), else
/// `pkg:helm/<name>@<version>?repository_url=<repository base URL>`.
pub fn chart(pin: &ChartPin) -> String {
    match (&pin.manifest, pin.source.strip_prefix("oci://")) {
        (Some(digest), Some(_)) => oci(&pin.reference, digest, None),
        _ => build(
            "helm",
            &[],
            &pin.name,
            Some(&pin.version),
            &[("repository_url", pin.source.clone())],
        ),
    }
}

/// A file's purl: `pkg:generic/<file name>?checksum=sha256:<hex>&download_url=<url>`
/// (no version: a URL carries none outpost can know).
pub fn file(pin: &FilePin) -> String {
    build(
        "generic",
        &[],
        crate::file_plan::file_name(&pin.url),
        None,
        &[
            ("checksum", format!("sha256:{}", pin.sha256.hex())),
            ("download_url", pin.url.clone()),
        ],
    )
}

/// A Debian package's purl: `pkg:deb/debian/<name>@<version>?arch=<arch>`.
pub fn deb(pin: &DebPin) -> String {
    build(
        "deb",
        &["debian"],
        &pin.name,
        Some(&pin.version),
        &[("arch", pin.arch.clone())],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_purls_follow_the_spec_example_form() {
        let digest = Digest::of(b"x");
        let purl = oci(
            "registry.test:5000/library/alpha:1.2",
            &digest,
            Some("amd64"),
        );
        assert_eq!(
            purl,
            format!(
                "pkg:oci/alpha@sha256%3A{}?arch=amd64&repository_url=registry.test:5000/library/alpha&tag=1.2",
                digest.hex()
            )
        );
        let purl = oci(&format!("docker.io/library/debian@{digest}"), &digest, None);
        assert_eq!(
            purl,
            format!(
                "pkg:oci/debian@sha256%3A{}?repository_url=docker.io/library/debian",
                digest.hex()
            )
        );
    }

    #[test]
    fn versions_and_names_are_percent_encoded() {
        assert_eq!(
            encode("1:2.3+dfsg-1~deb12u1", ""),
            "1%3A2.3%2Bdfsg-1~deb12u1"
        );
        assert_eq!(encode("https://h.test/a b", ":/"), "https://h.test/a%20b");
        assert_eq!(
            build(
                "deb",
                &["debian"],
                "libc6",
                Some("2.36-9+deb12u4"),
                &[("arch", "amd64".into())]
            ),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64"
        );
    }
}
