//! `filelists.xml`: every file of every package, keyed by the package's `pkgid` (its
//! checksum in primary.xml). Read only when a file dependency is not satisfied by the
//! files primary.xml lists.

use super::xml::reference;
use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::HashMap;
use std::io::BufRead;

/// Reads filelists.xml into `pkgid → files` (pkgid in lower case).
pub fn parse(input: impl BufRead) -> Result<HashMap<String, Vec<String>>, String> {
    parse_wanted(input, |_| true)
}

/// As [`parse`], keeping only the files `wanted` accepts (the paths some dependency names);
/// a package none of whose files is wanted is left out.
pub fn parse_wanted(
    input: impl BufRead,
    wanted: impl Fn(&str) -> bool,
) -> Result<HashMap<String, Vec<String>>, String> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut files: HashMap<String, Vec<String>> = HashMap::new();
    let mut pkgid: Option<String> = None;
    let mut text = String::new();
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
                    b"filelists" => seen_root = true,
                    b"package" => {
                        let [id] = super::xml::attrs(&e, [b"pkgid"])?;
                        pkgid = Some(id.unwrap_or_default().to_ascii_lowercase());
                    }
                    _ => {}
                }
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(|e| e.to_string())?),
            Event::GeneralRef(r) => text.push_str(&reference(&r)?),
            Event::End(e) => {
                if e.local_name().as_ref() == b"filelists" {
                    closed = true;
                }
                match (e.local_name().as_ref(), &pkgid) {
                    (b"file", Some(id)) if wanted(text.trim()) => files
                        .entry(id.clone())
                        .or_default()
                        .push(text.trim().to_string()),
                    (b"package", _) => pkgid = None,
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    super::xml::document_end(
        seen_root,
        closed,
        "a filelists.xml (no <filelists> element)",
    )?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    #[test]
    fn files_are_keyed_by_pkgid() {
        let xml = r#"<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="1">
<package pkgid="ABC" name="tool" arch="x86_64"><version epoch="0" ver="1" rel="1"/>
<file>/usr/libexec/tool/helper</file><file type="dir">/usr/libexec/tool</file></package>
</filelists>"#;
        let files = super::parse(xml.as_bytes()).unwrap();
        assert_eq!(
            files["abc"],
            ["/usr/libexec/tool/helper", "/usr/libexec/tool"]
        );
        assert!(super::parse(&b"<metadata/>"[..]).is_err());
    }

    #[test]
    fn only_wanted_files_are_kept() {
        let xml = r#"<filelists packages="2">
<package pkgid="A1" name="tool"><file>/usr/bin/tool</file><file>/usr/share/doc/tool</file></package>
<package pkgid="B2" name="other"><file>/usr/bin/other</file></package>
</filelists>"#;
        let files = super::parse_wanted(xml.as_bytes(), |f| f == "/usr/bin/tool").unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files["a1"], ["/usr/bin/tool"]);
    }
}
