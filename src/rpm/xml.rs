//! The little of XML reading the rpm-md readers share (on `quick-xml`): attributes by name,
//! element text with entity references resolved, and errors with a byte position.

use quick_xml::events::{BytesRef, BytesStart};

/// The unescaped value of attribute `name`, if present.
pub fn attr(element: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, String> {
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        if attribute.key.as_ref() == name {
            return attribute
                .unescape_value()
                .map(|v| Some(v.into_owned()))
                .map_err(|e| e.to_string());
        }
    }
    Ok(None)
}

/// The character an entity or character reference stands for (`&amp;`, `&#38;`).
pub fn reference(reference: &BytesRef<'_>) -> Result<String, String> {
    if let Some(c) = reference.resolve_char_ref().map_err(|e| e.to_string())? {
        return Ok(c.to_string());
    }
    let name = reference.decode().map_err(|e| e.to_string())?;
    Ok(match name.as_ref() {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        other => return Err(format!("unknown entity `&{other};`")),
    }
    .to_string())
}

/// The end of a document read to EOF: its root element must have been opened (`seen_root`)
/// and, when it was, closed. `what` names the document and its root
/// (`a primary.xml (no <metadata> element)`).
pub fn document_end(seen_root: bool, closed: bool, what: &str) -> Result<(), String> {
    if seen_root && !closed {
        return Err("the document ends early (truncated)".into());
    }
    if !seen_root {
        return Err(format!("not {what}"));
    }
    Ok(())
}
