//! `repodata/repomd.xml`: the index of a repository's metadata files (rpm-md, as
//! createrepo_c writes it). Each `<data type="primary|filelists|other|…">` gives the file's
//! `location href`, the `checksum` of the file as stored (compressed), the `open-checksum`
//! of its decompressed content and the `size`/`open-size` in bytes.

use super::xml::{attr, reference};
use quick_xml::events::Event;
use quick_xml::Reader;

/// A checksum as rpm-md writes it: the algorithm (`sha256`, `sha1`, `sha512`, …) and the
/// lower-case hex digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    pub kind: String,
    pub hex: String,
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind, self.hex)
    }
}

/// One `<data>` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataFile {
    /// `primary`, `filelists`, `other`, `primary_db`, `modules`, …
    pub kind: String,
    /// `location href`, relative to the repository's base URL.
    pub location: String,
    pub checksum: Option<Checksum>,
    pub open_checksum: Option<Checksum>,
    pub size: Option<u64>,
    pub open_size: Option<u64>,
}

/// A parsed `repomd.xml`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Repomd {
    pub revision: Option<String>,
    pub data: Vec<DataFile>,
}

impl Repomd {
    /// Parses repomd.xml; an error says what is malformed.
    pub fn parse(xml: &[u8]) -> Result<Repomd, String> {
        let mut reader = Reader::from_reader(xml);
        reader.config_mut().trim_text(true);
        let mut buf = Vec::new();
        let mut repomd = Repomd::default();
        let mut current: Option<DataFile> = None;
        let mut text = String::new();
        let mut checksum_kind = String::new();
        let mut seen_root = false;
        let mut closed = false;
        loop {
            let event = reader
                .read_event_into(&mut buf)
                .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
            match event {
                Event::Start(e) | Event::Empty(e) => {
                    text.clear();
                    match e.local_name().as_ref() {
                        b"repomd" => seen_root = true,
                        b"data" => {
                            current = Some(DataFile {
                                kind: attr(&e, b"type")?.unwrap_or_default(),
                                ..DataFile::default()
                            })
                        }
                        b"location" => {
                            if let Some(data) = current.as_mut() {
                                data.location = attr(&e, b"href")?.unwrap_or_default();
                            }
                        }
                        b"checksum" | b"open-checksum" => {
                            checksum_kind = attr(&e, b"type")?.unwrap_or_default();
                        }
                        _ => {}
                    }
                }
                Event::Text(t) => text.push_str(&t.decode().map_err(|e| e.to_string())?),
                Event::GeneralRef(r) => text.push_str(&reference(&r)?),
                Event::End(e) => {
                    if e.local_name().as_ref() == b"repomd" {
                        closed = true;
                    }
                    let value = text.trim().to_string();
                    match (e.local_name().as_ref(), current.as_mut()) {
                        (b"data", Some(_)) => repomd.data.extend(current.take()),
                        (b"checksum", Some(data)) => {
                            data.checksum = Some(checksum(&checksum_kind, &value))
                        }
                        (b"open-checksum", Some(data)) => {
                            data.open_checksum = Some(checksum(&checksum_kind, &value))
                        }
                        (b"size", Some(data)) => data.size = value.parse().ok(),
                        (b"open-size", Some(data)) => data.open_size = value.parse().ok(),
                        (b"revision", None) => repomd.revision = Some(value),
                        _ => {}
                    }
                    text.clear();
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        super::xml::document_end(seen_root, closed, "a repomd.xml (no <repomd> element)")?;
        Ok(repomd)
    }

    /// The entry of `kind` (`primary`, `filelists`).
    pub fn get(&self, kind: &str) -> Option<&DataFile> {
        self.data.iter().find(|d| d.kind == kind)
    }
}

fn checksum(kind: &str, hex: &str) -> Checksum {
    let kind = match kind {
        "sha" => "sha1",
        other => other,
    };
    Checksum {
        kind: kind.to_ascii_lowercase(),
        hex: hex.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPOMD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1700000000</revision>
  <data type="primary">
    <checksum type="sha256">AB12</checksum>
    <open-checksum type="sha256">cd34</open-checksum>
    <location href="repodata/ab12-primary.xml.zst"/>
    <timestamp>1700000000</timestamp>
    <size>1234</size>
    <open-size>5678</open-size>
  </data>
  <data type="filelists">
    <checksum type="sha">ef56</checksum>
    <location href="repodata/ef56-filelists.xml.gz"/>
    <size>99</size>
  </data>
</repomd>"#;

    #[test]
    fn data_entries_carry_locations_checksums_and_sizes() {
        let repomd = Repomd::parse(REPOMD.as_bytes()).unwrap();
        assert_eq!(repomd.revision.as_deref(), Some("1700000000"));
        let primary = repomd.get("primary").unwrap();
        assert_eq!(primary.location, "repodata/ab12-primary.xml.zst");
        assert_eq!(
            primary.checksum.as_ref().unwrap().to_string(),
            "sha256:ab12"
        );
        assert_eq!(primary.open_checksum.as_ref().unwrap().hex, "cd34");
        assert_eq!((primary.size, primary.open_size), (Some(1234), Some(5678)));
        let filelists = repomd.get("filelists").unwrap();
        assert_eq!(filelists.checksum.as_ref().unwrap().kind, "sha1");
        assert!(repomd.get("other").is_none());
    }

    #[test]
    fn something_else_is_refused() {
        assert!(Repomd::parse(b"<html><body>404</body></html>").is_err());
        assert!(Repomd::parse(b"<repomd><data type=\"primary\">").is_err());
    }
}
