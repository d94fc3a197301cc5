//! The rpm-md XML documents of one repository (`primary.xml`, `filelists.xml`,
//! `other.xml`) written from package headers, in createrepo_c's shape (namespaces
//! `http://linux.duke.edu/metadata/{common,rpm,filelists,other}`): dependencies with flags
//! and `epoch`/`ver`/`rel`, `pre="1"` on install-time requirements, `rpmlib(…)`
//! requirements and those the package satisfies itself left out, the primary file subset (`/etc/…`, `…bin/…`,
//! `/usr/lib/sendmail`), directories and `%ghost` files marked.

use super::RepoPackage;
use crate::rpm::header::{self as h, Header};
use std::collections::HashSet;
use std::fmt::Write;

/// XML 1.0 text or attribute value: `&`, `<`, `>`, `"` escaped, characters XML 1.0 cannot
/// carry (controls other than tab, LF, CR; U+FFFE, U+FFFF) dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `epoch`, `ver`, `rel` of a dependency's version (`[epoch:]version[-release]`);
/// createrepo_c writes epoch 0 when none is given.
fn evr(text: &str) -> (String, String, Option<String>) {
    let (epoch, rest) = match text.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.to_string(), rest)
        }
        _ => ("0".to_string(), text),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) => (epoch, v.to_string(), Some(r.to_string())),
        None => (epoch, rest.to_string(), None),
    }
}

/// `LT`, `GT`, `EQ`, `LE`, `GE` from the sense bits, `None` without a comparison.
fn flags_name(flags: u64) -> Option<&'static str> {
    let less = flags & h::SENSE_LESS != 0;
    let greater = flags & h::SENSE_GREATER != 0;
    let equal = flags & h::SENSE_EQUAL != 0;
    match (less, greater, equal) {
        (true, false, false) => Some("LT"),
        (false, true, false) => Some("GT"),
        (false, false, true) => Some("EQ"),
        (true, false, true) => Some("LE"),
        (false, true, true) => Some("GE"),
        _ => None,
    }
}

/// The header's package version as `epoch`, `ver`, `rel` attributes.
fn version_attributes(header: &Header) -> String {
    format!(
        r#"epoch="{}" ver="{}" rel="{}""#,
        header.int(h::EPOCH).unwrap_or(0),
        escape(&header.string(h::VERSION).unwrap_or_default()),
        escape(&header.string(h::RELEASE).unwrap_or_default())
    )
}

/// One dependency list (`rpm:provides`, `rpm:requires`, …) from its three tags.
fn dependencies(out: &mut String, header: &Header, element: &str, tags: [u32; 3]) {
    let names = header.strings(tags[0]);
    let flags = header.ints(tags[1]);
    let versions = header.strings(tags[2]);
    let requires = element == "requires";
    // createrepo_c leaves out what the package satisfies itself: a requirement equal to one
    // of its provides, or one of its own files.
    let own: HashSet<(String, u64, String)> = if requires {
        let provides = header.strings(h::PROVIDENAME);
        let provide_flags = header.ints(h::PROVIDEFLAGS);
        let provide_versions = header.strings(h::PROVIDEVERSION);
        provides
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.clone(),
                    provide_flags.get(i).copied().unwrap_or(0) & 0xe,
                    provide_versions.get(i).cloned().unwrap_or_default(),
                )
            })
            .collect()
    } else {
        HashSet::new()
    };
    let own_files: HashSet<String> = if requires {
        files(header).into_iter().map(|(path, _)| path).collect()
    } else {
        HashSet::new()
    };
    let mut seen: HashSet<(String, u64, String)> = HashSet::new();
    let mut entries = String::new();
    for (i, name) in names.iter().enumerate() {
        let flag = flags.get(i).copied().unwrap_or(0);
        let version = versions.get(i).cloned().unwrap_or_default();
        if requires && (name.starts_with("rpmlib(") || flag & h::SENSE_RPMLIB != 0) {
            continue;
        }
        let key = (name.clone(), flag & 0xe, version.clone());
        if own.contains(&key) || own_files.contains(name) || !seen.insert(key) {
            continue;
        }
        let _ = write!(entries, r#"      <rpm:entry name="{}""#, escape(name));
        if let (Some(flags), false) = (flags_name(flag), version.is_empty()) {
            let (epoch, ver, rel) = evr(&version);
            let _ = write!(
                entries,
                r#" flags="{flags}" epoch="{}" ver="{}""#,
                escape(&epoch),
                escape(&ver)
            );
            if let Some(rel) = rel {
                let _ = write!(entries, r#" rel="{}""#, escape(&rel));
            }
        }
        if requires && flag & h::SENSE_PRE_MASK != 0 {
            entries.push_str(r#" pre="1""#);
        }
        entries.push_str("/>\n");
    }
    if !entries.is_empty() {
        let _ = write!(out, "    <rpm:{element}>\n{entries}    </rpm:{element}>\n");
    }
}

/// A package's files: path, and `dir` or `ghost` when it is one.
fn files(header: &Header) -> Vec<(String, Option<&'static str>)> {
    let dirnames = header.strings(h::DIRNAMES);
    let indexes = header.ints(h::DIRINDEXES);
    let modes = header.ints(h::FILEMODES);
    let flags = header.ints(h::FILEFLAGS);
    let paths: Vec<String> = if dirnames.is_empty() {
        header.strings(h::OLDFILENAMES)
    } else {
        header
            .strings(h::BASENAMES)
            .iter()
            .zip(&indexes)
            .map(|(base, dir)| {
                let dir = dirnames.get(*dir as usize).map_or("", String::as_str);
                format!("{dir}{base}")
            })
            .collect()
    };
    paths
        .into_iter()
        .enumerate()
        .map(|(i, path)| {
            let kind = if modes.get(i).is_some_and(|m| m & 0o170000 == 0o040000) {
                Some("dir")
            } else if flags.get(i).is_some_and(|f| f & h::FILE_GHOST != 0) {
                Some("ghost")
            } else {
                None
            };
            (path, kind)
        })
        .collect()
}

fn file_element(out: &mut String, indent: &str, path: &str, kind: Option<&str>) {
    match kind {
        Some(kind) => {
            let _ = writeln!(
                out,
                r#"{indent}<file type="{kind}">{}</file>"#,
                escape(path)
            );
        }
        None => {
            let _ = writeln!(out, "{indent}<file>{}</file>", escape(path));
        }
    }
}

/// createrepo_c's primary file subset.
fn in_primary(path: &str) -> bool {
    path.starts_with("/etc/") || path.contains("bin/") || path == "/usr/lib/sendmail"
}

/// `primary.xml`.
pub fn primary(packages: &[RepoPackage]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{}\">\n",
        packages.len()
    );
    for p in packages {
        let hd = &p.package.header;
        let text = |tag: u32| escape(&hd.string(tag).unwrap_or_default());
        let build_time = hd.int(h::BUILDTIME).unwrap_or(0);
        let installed = hd.int(h::LONGSIZE).or_else(|| hd.int(h::SIZE)).unwrap_or(0);
        let sig = &p.package.signature;
        let archive = sig
            .int(h::SIGTAG_LONGARCHIVESIZE)
            .or_else(|| sig.int(h::SIGTAG_PAYLOADSIZE))
            .or_else(|| hd.int(h::ARCHIVESIZE))
            .unwrap_or(0);
        let _ = write!(
            out,
            "<package type=\"rpm\">\n  <name>{}</name>\n  <arch>{}</arch>\n  <version {}/>\n  <checksum type=\"sha256\" pkgid=\"YES\">{}</checksum>\n  <summary>{}</summary>\n  <description>{}</description>\n  <packager>{}</packager>\n  <url>{}</url>\n  <time file=\"{build_time}\" build=\"{build_time}\"/>\n  <size package=\"{}\" installed=\"{installed}\" archive=\"{archive}\"/>\n  <location href=\"{}\"/>\n  <format>\n    <rpm:license>{}</rpm:license>\n    <rpm:vendor>{}</rpm:vendor>\n    <rpm:group>{}</rpm:group>\n    <rpm:buildhost>{}</rpm:buildhost>\n    <rpm:sourcerpm>{}</rpm:sourcerpm>\n    <rpm:header-range start=\"{}\" end=\"{}\"/>\n",
            text(h::NAME),
            escape(&p.arch()),
            version_attributes(hd),
            p.sha256.hex(),
            text(h::SUMMARY),
            text(h::DESCRIPTION),
            text(h::PACKAGER),
            text(h::URL),
            p.size,
            escape(p.location),
            text(h::LICENSE),
            text(h::VENDOR),
            text(h::GROUP),
            text(h::BUILDHOST),
            text(h::SOURCERPM),
            p.package.header_start,
            p.package.header_end,
        );
        for (element, tags) in [
            (
                "provides",
                [h::PROVIDENAME, h::PROVIDEFLAGS, h::PROVIDEVERSION],
            ),
            (
                "requires",
                [h::REQUIRENAME, h::REQUIREFLAGS, h::REQUIREVERSION],
            ),
            (
                "conflicts",
                [h::CONFLICTNAME, h::CONFLICTFLAGS, h::CONFLICTVERSION],
            ),
            (
                "obsoletes",
                [h::OBSOLETENAME, h::OBSOLETEFLAGS, h::OBSOLETEVERSION],
            ),
            (
                "suggests",
                [h::SUGGESTNAME, h::SUGGESTFLAGS, h::SUGGESTVERSION],
            ),
            (
                "enhances",
                [h::ENHANCENAME, h::ENHANCEFLAGS, h::ENHANCEVERSION],
            ),
            (
                "recommends",
                [h::RECOMMENDNAME, h::RECOMMENDFLAGS, h::RECOMMENDVERSION],
            ),
            (
                "supplements",
                [h::SUPPLEMENTNAME, h::SUPPLEMENTFLAGS, h::SUPPLEMENTVERSION],
            ),
        ] {
            dependencies(&mut out, hd, element, tags);
        }
        for (path, kind) in files(hd).into_iter().filter(|(p, _)| in_primary(p)) {
            file_element(&mut out, "    ", &path, kind);
        }
        out.push_str("  </format>\n</package>\n");
    }
    out.push_str("</metadata>\n");
    out
}

/// The opening of a package element in `filelists.xml` and `other.xml`.
fn package_open(out: &mut String, p: &RepoPackage) {
    let hd = &p.package.header;
    let _ = write!(
        out,
        "<package pkgid=\"{}\" name=\"{}\" arch=\"{}\">\n  <version {}/>\n",
        p.sha256.hex(),
        escape(&hd.string(h::NAME).unwrap_or_default()),
        escape(&p.arch()),
        version_attributes(hd)
    );
}

/// `filelists.xml`: every file of every package.
pub fn filelists(packages: &[RepoPackage]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"{}\">\n",
        packages.len()
    );
    for p in packages {
        package_open(&mut out, p);
        for (path, kind) in files(&p.package.header) {
            file_element(&mut out, "  ", &path, kind);
        }
        out.push_str("</package>\n");
    }
    out.push_str("</filelists>\n");
    out
}

/// `other.xml`: each package's changelog entries.
pub fn other(packages: &[RepoPackage]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" packages=\"{}\">\n",
        packages.len()
    );
    for p in packages {
        package_open(&mut out, p);
        let hd = &p.package.header;
        let times = hd.ints(h::CHANGELOGTIME);
        let names = hd.strings(h::CHANGELOGNAME);
        let texts = hd.strings(h::CHANGELOGTEXT);
        for ((time, name), text) in times.iter().zip(&names).zip(&texts) {
            let _ = writeln!(
                out,
                "  <changelog author=\"{}\" date=\"{time}\">{}</changelog>",
                escape(name),
                escape(text)
            );
        }
        out.push_str("</package>\n");
    }
    out.push_str("</otherdata>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_versions() {
        assert_eq!(
            escape("a&b<c>\"d\"\u{1}\te\u{fffe}ü"),
            "a&amp;b&lt;c&gt;&quot;d&quot;\teü"
        );
        assert_eq!(
            evr("2:1.0-3.el9"),
            ("2".into(), "1.0".into(), Some("3.el9".into()))
        );
        assert_eq!(evr("1.8"), ("0".into(), "1.8".into(), None));
        assert_eq!(
            evr("1.2~rc1-1-2"),
            ("0".into(), "1.2~rc1-1".into(), Some("2".into()))
        );
        assert_eq!(flags_name(h::SENSE_GREATER | h::SENSE_EQUAL), Some("GE"));
        assert_eq!(flags_name(h::SENSE_LESS), Some("LT"));
        assert_eq!(flags_name(0), None);
        assert!(in_primary("/usr/sbin/x") && in_primary("/etc/x.conf"));
        assert!(!in_primary("/usr/share/doc/x"));
    }
}
