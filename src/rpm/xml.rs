//! The little of XML reading the rpm-md readers share (on `quick-xml`): attributes by name,
//! element text with entity references resolved, and errors with a byte position.

use quick_xml::events::{BytesRef, BytesStart};
use std::borrow::Cow;

/// The unescaped value of attribute `name`, if present.
pub fn attr(element: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, String> {
    let [value] = attrs(element, [name])?;
    Ok(value.map(Cow::into_owned))
}

/// The unescaped values of attributes `names`, in that order, read in one pass over the
/// element and borrowed from it unless an entity had to be replaced. A wanted attribute
/// given twice is an error (as XML has it); other attributes are not checked.
pub fn attrs<'a, const N: usize>(
    element: &'a BytesStart<'_>,
    names: [&[u8]; N],
) -> Result<[Option<Cow<'a, str>>; N], String> {
    let mut values: [Option<Cow<'a, str>>; N] = [const { None }; N];
    let mut attributes = element.attributes();
    attributes.with_checks(false);
    for attribute in attributes {
        let attribute = attribute.map_err(|e| e.to_string())?;
        let Some(slot) = names.iter().position(|n| *n == attribute.key.as_ref()) else {
            continue;
        };
        if values[slot].is_some() {
            return Err(format!(
                "attribute `{}` is given twice",
                String::from_utf8_lossy(names[slot])
            ));
        }
        values[slot] = Some(attribute.unescape_value().map_err(|e| e.to_string())?);
    }
    Ok(values)
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

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;

    #[test]
    fn attributes_come_in_one_pass_and_a_repeated_one_is_refused() {
        let mut reader = quick_xml::Reader::from_str(
            r#"<entry name="a &amp; b" flags="GE" ver="1"/><entry name="x" name="y"/>"#,
        );
        let Ok(Event::Empty(first)) = reader.read_event() else {
            panic!("no element")
        };
        let [name, rel, ver] = attrs(&first, [b"name", b"rel", b"ver"]).unwrap();
        assert_eq!(name.as_deref(), Some("a & b"));
        assert_eq!((rel, ver.as_deref()), (None, Some("1")));
        let Ok(Event::Empty(second)) = reader.read_event() else {
            panic!("no element")
        };
        let error = attrs(&second, [b"name"]).unwrap_err();
        assert!(error.contains("`name` is given twice"), "{error}");
    }
}
