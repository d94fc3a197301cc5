//! deb822 control data (Packages, Release, `.sources`): paragraphs of `Field: value` lines,
//! continuation lines starting with a space or tab, paragraphs separated by blank lines.

/// One paragraph: fields in file order; names compare case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paragraph {
    pub fields: Vec<(String, String)>,
    /// 1-based line where the paragraph starts (for messages).
    pub line: usize,
}

impl Paragraph {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("line {0}: a continuation line before any field")]
    OrphanContinuation(usize),
    #[error("line {0}: expected `Field: value`")]
    NotAField(usize),
}

/// Parses every paragraph. Comment lines (`#`) are skipped; a PGP armor around the data is
/// not handled here (see the InRelease reader).
pub fn parse(text: &str) -> Result<Vec<Paragraph>, ControlError> {
    let mut paragraphs = Vec::new();
    let mut current = Paragraph::default();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            let Some((_, value)) = current.fields.last_mut() else {
                return Err(ControlError::OrphanContinuation(number));
            };
            let continued = line.trim();
            value.push('\n');
            if continued != "." {
                value.push_str(continued);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ControlError::NotAField(number));
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ControlError::NotAField(number));
        }
        if current.fields.is_empty() {
            current.line = number;
        }
        current
            .fields
            .push((name.to_string(), value.trim().to_string()));
    }
    if !current.fields.is_empty() {
        paragraphs.push(current);
    }
    Ok(paragraphs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_fields_and_continuations() {
        let text = "Package: socat\nVersion: 1.7.4.4-2\nDescription: multipurpose relay\n socat is a relay\n .\n for bidirectional data\n\n\nPackage: conntrack\ndepends: libc6 (>= 2.34)\n";
        let paragraphs = parse(text).unwrap();
        assert_eq!(paragraphs.len(), 2);
        assert_eq!(paragraphs[0].get("package"), Some("socat"));
        assert_eq!(
            paragraphs[0].get("Description"),
            Some("multipurpose relay\nsocat is a relay\n\nfor bidirectional data")
        );
        assert_eq!(paragraphs[1].get("Depends"), Some("libc6 (>= 2.34)"));
        assert_eq!(paragraphs[1].line, 9);
    }

    #[test]
    fn malformed_lines_are_located() {
        assert_eq!(parse(" orphan\n"), Err(ControlError::OrphanContinuation(1)));
        assert_eq!(
            parse("Package: a\nno colon here\n"),
            Err(ControlError::NotAField(2))
        );
    }
}
