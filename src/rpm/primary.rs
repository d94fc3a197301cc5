//! `primary.xml` (rpm-md, as createrepo_c writes it), read as a stream with `quick-xml`:
//! per `<package type="rpm">` the name, arch, epoch/version/release, the package checksum
//! (with its algorithm), `size package=` (bytes of the `.rpm`), `location href`,
//! `rpm:header-range end=` (byte offset where the header ends: the part a header
//! signature check reads), the dependency lists (`rpm:provides`, `rpm:requires` with
//! `pre="1"`, `rpm:conflicts`, `rpm:obsoletes`, `rpm:recommends`, `rpm:supplements`) and
//! the file entries primary carries (`/etc/…`, `*bin/…`, the rest is in filelists.xml).

use super::dep::{Dep, Op, Req};
use super::repomd::Checksum;
use super::version::Evr;
use super::xml::{attr, attrs, reference};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::borrow::Cow;
use std::io::BufRead;
use std::sync::Arc;

/// One package of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Package {
    pub name: String,
    pub arch: String,
    pub evr: Evr,
    /// The checksum of the `.rpm` file (also its `pkgid` in filelists.xml).
    pub checksum: Option<Checksum>,
    /// Bytes of the `.rpm` file.
    pub size: u64,
    /// `location href`, relative to the repository's base URL.
    pub location: String,
    /// `rpm:header-range end`: the byte offset where the signature header and header end.
    pub header_end: Option<u64>,
    pub provides: Vec<Dep>,
    /// Requires (including `pre="1"` ones), simple or rich.
    pub requires: Vec<Req>,
    pub conflicts: Vec<Req>,
    pub obsoletes: Vec<Dep>,
    pub recommends: Vec<Req>,
    pub supplements: Vec<Req>,
    /// Files listed in primary.xml (a subset of the package's files).
    pub files: Vec<String>,
}

impl Package {
    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        format!("{}-{}.{}", self.name, self.evr, self.arch)
    }

    /// The package as a provide of its own name (`name = epoch:version-release`).
    pub fn self_provide(&self) -> Dep {
        Dep {
            name: self.name.clone(),
            range: Some((Op::Eq, self.evr.clone())),
        }
    }
}

/// What primary.xml holds.
#[derive(Debug, Clone, Default)]
pub struct Primary {
    /// `<metadata packages="N">`.
    pub declared: Option<u64>,
    /// Each package in its own allocation, as the universes that index it share it.
    pub packages: Vec<Arc<Package>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    None,
    Provides,
    Requires,
    Conflicts,
    Obsoletes,
    Recommends,
    Supplements,
    Other,
}

/// Reads primary.xml. A package count that differs from `<metadata packages="N">` is an
/// error (a truncated or substituted file), as is malformed XML or a malformed dependency.
/// Only what a closure reads is kept: the text of `<summary>`, `<description>` and the like
/// is skipped unread.
pub fn parse(input: impl BufRead) -> Result<Primary, String> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::with_capacity(4096);
    let mut primary = Primary::default();
    let mut package: Option<Package> = None;
    let mut list = List::None;
    let mut scratch = Scratch::default();
    let mut text = String::new();
    // Whether the open element's text is kept (`name`, `arch`, `checksum`, `file`).
    let mut keep = false;
    let mut seen_root = false;
    let mut closed = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                text.clear();
                keep = false;
                let name = e.local_name();
                match name.as_ref() {
                    b"metadata" => {
                        seen_root = true;
                        primary.declared = attr(&e, b"packages")?.and_then(|n| n.parse().ok());
                    }
                    b"package" => {
                        package = Some(Package::default());
                        list = List::None;
                        scratch.deps.clear();
                        scratch.reqs.clear();
                    }
                    b"name" => keep = package.is_some() && list == List::None,
                    b"arch" | b"checksum" | b"file" => {
                        keep = package.is_some();
                        if let Some(p) = package.as_mut() {
                            start(p, &e, &mut list, &mut scratch)
                                .map_err(|m| format!("package {}: {m}", p.name))?;
                        }
                    }
                    _ => {
                        if let Some(p) = package.as_mut() {
                            start(p, &e, &mut list, &mut scratch)
                                .map_err(|m| format!("package {}: {m}", p.name))?;
                        }
                    }
                }
            }
            Event::Text(t) if keep => text.push_str(&t.decode().map_err(|e| e.to_string())?),
            Event::GeneralRef(r) if keep => text.push_str(&reference(&r)?),
            Event::End(e) => {
                if e.local_name().as_ref() == b"metadata" {
                    closed = true;
                }
                if let Some(p) = package.as_mut() {
                    match e.local_name().as_ref() {
                        b"name" if list == List::None => p.name = text.trim().to_string(),
                        b"arch" => p.arch = text.trim().to_string(),
                        b"checksum" => {
                            if let Some(c) = p.checksum.as_mut() {
                                c.hex = text.trim().to_ascii_lowercase();
                            }
                        }
                        b"file" => p.files.push(text.trim().to_string()),
                        b"provides" | b"requires" | b"conflicts" | b"obsoletes" | b"recommends"
                        | b"supplements" | b"suggests" | b"enhances" => {
                            scratch.flush(p, list);
                            list = List::None
                        }
                        b"package" => {
                            scratch.flush(p, list);
                            list = List::None;
                            primary.packages.extend(package.take().map(Arc::new))
                        }
                        _ => {}
                    }
                }
                text.clear();
                keep = false;
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    super::xml::document_end(seen_root, closed, "a primary.xml (no <metadata> element)")?;
    if let Some(declared) = primary.declared {
        if declared != primary.packages.len() as u64 {
            return Err(format!(
                "it says it lists {declared} packages but {} were read (truncated or replaced)",
                primary.packages.len()
            ));
        }
    }
    Ok(primary)
}

/// The entries of the dependency list being read, moved into the package (in one
/// allocation of the right size) when the list ends.
#[derive(Default)]
struct Scratch {
    deps: Vec<Dep>,
    reqs: Vec<Req>,
}

impl Scratch {
    fn flush(&mut self, p: &mut Package, list: List) {
        match list {
            List::Provides => p.provides.append(&mut self.deps),
            List::Obsoletes => p.obsoletes.append(&mut self.deps),
            List::Requires => p.requires.append(&mut self.reqs),
            List::Conflicts => p.conflicts.append(&mut self.reqs),
            List::Recommends => p.recommends.append(&mut self.reqs),
            List::Supplements => p.supplements.append(&mut self.reqs),
            List::None | List::Other => {}
        }
        self.deps.clear();
        self.reqs.clear();
    }
}

/// `epoch`, `ver` and `rel` of a `<version>` or `<rpm:entry>` element as an EVR.
fn evr(epoch: Option<&str>, ver: Option<&str>, rel: Option<&str>) -> Evr {
    Evr::from_parts(epoch, ver.unwrap_or_default(), rel)
}

/// An opening tag inside `<package>`.
fn start(
    p: &mut Package,
    e: &BytesStart<'_>,
    list: &mut List,
    scratch: &mut Scratch,
) -> Result<(), String> {
    let name = e.local_name();
    let opens = |kind: List, list: &mut List, scratch: &mut Scratch, p: &mut Package| {
        scratch.flush(p, *list);
        *list = kind;
    };
    match name.as_ref() {
        b"version" => {
            let [epoch, ver, rel] = attrs(e, [b"epoch", b"ver", b"rel"])?;
            p.evr = evr(epoch.as_deref(), ver.as_deref(), rel.as_deref());
        }
        b"checksum" => {
            let [kind] = attrs(e, [b"type"])?;
            let kind = kind.unwrap_or_default().to_ascii_lowercase();
            p.checksum = Some(Checksum {
                kind: if kind == "sha" { "sha1".into() } else { kind },
                hex: String::new(),
            });
        }
        b"size" => {
            let [size] = attrs(e, [b"package"])?;
            p.size = size.and_then(|s| s.parse().ok()).unwrap_or(0)
        }
        b"location" => {
            let [href] = attrs(e, [b"href"])?;
            p.location = href.map(Cow::into_owned).unwrap_or_default()
        }
        b"header-range" => {
            let [end] = attrs(e, [b"end"])?;
            p.header_end = end.and_then(|s| s.parse().ok())
        }
        b"provides" => opens(List::Provides, list, scratch, p),
        b"requires" => opens(List::Requires, list, scratch, p),
        b"conflicts" => opens(List::Conflicts, list, scratch, p),
        b"obsoletes" => opens(List::Obsoletes, list, scratch, p),
        b"recommends" => opens(List::Recommends, list, scratch, p),
        b"supplements" => opens(List::Supplements, list, scratch, p),
        b"suggests" | b"enhances" => opens(List::Other, list, scratch, p),
        b"entry" => {
            if matches!(*list, List::None | List::Other) {
                return Ok(());
            }
            let [name, flags, epoch, ver, rel] =
                attrs(e, [b"name", b"flags", b"epoch", b"ver", b"rel"])?;
            let name = name.unwrap_or_default();
            let range = flags
                .as_deref()
                .and_then(Op::from_flags)
                .map(|op| (op, evr(epoch.as_deref(), ver.as_deref(), rel.as_deref())));
            let dep = Dep {
                name: name.into_owned(),
                range,
            };
            let req = |dep: Dep| -> Result<Req, String> {
                if dep.name.starts_with('(') {
                    Req::parse(&dep.name)
                } else {
                    Ok(Req::Simple(dep))
                }
            };
            match *list {
                List::Provides | List::Obsoletes => scratch.deps.push(dep),
                List::Requires | List::Conflicts | List::Recommends | List::Supplements => {
                    scratch.reqs.push(req(dep)?)
                }
                List::None | List::Other => {}
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const PRIMARY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="2">
<package type="rpm">
  <name>app</name>
  <arch>x86_64</arch>
  <version epoch="2" ver="1.0~rc1" rel="1"/>
  <checksum type="sha256" pkgid="YES">ABCDEF</checksum>
  <summary>an app &amp; more</summary>
  <size package="6789" installed="100" archive="200"/>
  <location href="Packages/a/app-1.0~rc1-1.x86_64.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:header-range start="4504" end="5986"/>
    <rpm:provides>
      <rpm:entry name="app" flags="EQ" epoch="2" ver="1.0~rc1" rel="1"/>
      <rpm:entry name="webserver"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="/bin/sh" pre="1"/>
      <rpm:entry name="lib" flags="GE" epoch="0" ver="2"/>
      <rpm:entry name="(tool-a or tool-b)"/>
    </rpm:requires>
    <rpm:conflicts><rpm:entry name="rival"/></rpm:conflicts>
    <rpm:obsoletes><rpm:entry name="old-app" flags="LT" epoch="0" ver="2"/></rpm:obsoletes>
    <rpm:recommends><rpm:entry name="docs"/></rpm:recommends>
    <file>/usr/bin/app</file>
    <file type="dir">/etc/app</file>
  </format>
</package>
<package type="rpm">
  <name>docs</name>
  <arch>noarch</arch>
  <version epoch="0" ver="1" rel="1.el9"/>
  <checksum type="sha" pkgid="YES">0011</checksum>
  <size package="10"/>
  <location href="docs.rpm"/>
  <format/>
</package>
</metadata>"#;

    #[test]
    fn packages_carry_identity_location_and_dependencies() {
        let primary = parse(PRIMARY.as_bytes()).unwrap();
        assert_eq!(primary.declared, Some(2));
        let app = &primary.packages[0];
        assert_eq!(app.nevra(), "app-2:1.0~rc1-1.x86_64");
        assert_eq!(app.checksum.as_ref().unwrap().to_string(), "sha256:abcdef");
        assert_eq!((app.size, app.header_end), (6789, Some(5986)));
        assert_eq!(app.location, "Packages/a/app-1.0~rc1-1.x86_64.rpm");
        assert_eq!(app.provides.len(), 2);
        assert_eq!(app.requires.len(), 3);
        assert_eq!(app.requires[2].to_string(), "(tool-a or tool-b)");
        assert_eq!(app.requires[1].to_string(), "lib >= 2");
        assert_eq!(app.obsoletes[0].to_string(), "old-app < 2");
        assert_eq!(app.conflicts.len(), 1);
        assert_eq!(app.recommends.len(), 1);
        assert_eq!(app.files, ["/usr/bin/app", "/etc/app"]);
        let docs = &primary.packages[1];
        assert_eq!(docs.checksum.as_ref().unwrap().kind, "sha1");
        assert_eq!(docs.evr.release.as_deref(), Some("1.el9"));
    }

    #[test]
    fn a_count_other_than_declared_is_an_error() {
        let truncated = PRIMARY.replace("packages=\"2\"", "packages=\"3\"");
        let error = parse(truncated.as_bytes()).unwrap_err();
        assert!(error.contains("3 packages but 2"), "{error}");
        let empty = "<metadata packages=\"5\"></metadata>";
        assert!(parse(empty.as_bytes()).is_err());
        assert!(parse(&b"<html/>"[..]).is_err());
    }
}
