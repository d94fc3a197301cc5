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
    #[error("paragraph at line {0}: longer than {1} bytes")]
    TooLong(usize, usize),
}

/// Parses every paragraph. Comment lines (`#`) are skipped; a PGP armor around the data is
/// not handled here (see the InRelease reader).
pub fn parse(text: &str) -> Result<Vec<Paragraph>, ControlError> {
    let mut paragraphs = Vec::new();
    parse_each(
        text,
        |_| Keep::Whole,
        |paragraph| {
            paragraphs.push(paragraph);
            Ok::<(), ControlError>(())
        },
    )?;
    Ok(paragraphs)
}

/// What [`parse_each`] keeps of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Not kept (its continuation lines are skipped without being copied).
    Drop,
    /// The whole value.
    Whole,
    /// The first line only (a Description's synopsis).
    FirstLine,
}

/// Parses paragraph by paragraph, handing each to `each` as soon as it ends, with only the
/// fields `keep` asks for: a large index (a Debian `Packages` file is ~100 MB) is never held
/// as paragraphs all at once. Errors are `each`'s or the format's (`E: From<ControlError>`).
pub fn parse_each<E: From<ControlError>>(
    text: &str,
    keep: impl Fn(&str) -> Keep,
    each: impl FnMut(Paragraph) -> Result<(), E>,
) -> Result<(), E> {
    parse_each_from(text, 1, keep, each)
}

/// As [`parse_each`], for text that starts at line `first_line` (1-based) of a larger file:
/// paragraph lines and error lines are numbered as in that file (a paragraph read back from
/// its offset in an index, see `debian::index`).
pub fn parse_each_from<E: From<ControlError>>(
    text: &str,
    first_line: usize,
    keep: impl Fn(&str) -> Keep,
    mut each: impl FnMut(Paragraph) -> Result<(), E>,
) -> Result<(), E> {
    let mut current = Paragraph::default();
    // Whether the paragraph has begun (a dropped field still starts it), and what is kept of
    // the field being continued.
    let mut started = false;
    let mut continuing = Keep::Drop;
    for (index, raw) in text.lines().enumerate() {
        let number = index + first_line;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            if started {
                each(std::mem::take(&mut current))?;
                started = false;
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if !started {
                return Err(ControlError::OrphanContinuation(number).into());
            }
            if continuing != Keep::Whole {
                continue;
            }
            let Some((_, value)) = current.fields.last_mut() else {
                return Err(ControlError::OrphanContinuation(number).into());
            };
            let continued = line.trim();
            value.push('\n');
            if continued != "." {
                value.push_str(continued);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ControlError::NotAField(number).into());
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ControlError::NotAField(number).into());
        }
        if !started {
            current.line = number;
            started = true;
        }
        continuing = keep(name);
        if continuing != Keep::Drop {
            current
                .fields
                .push((name.to_string(), value.trim().to_string()));
        }
    }
    if started {
        each(current)?;
    }
    Ok(())
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
    fn parse_each_keeps_only_the_fields_asked_for() {
        let text = "Package: socat\nMD5sum: 00\nDescription: multipurpose relay\n socat is a relay\n\nPackage: b\nTag: x\n";
        let mut seen = Vec::new();
        parse_each(
            text,
            |name| match name {
                "Description" => Keep::FirstLine,
                "Package" => Keep::Whole,
                _ => Keep::Drop,
            },
            |p| {
                seen.push(p);
                Ok::<(), ControlError>(())
            },
        )
        .unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen[0].fields,
            vec![
                ("Package".to_string(), "socat".to_string()),
                ("Description".to_string(), "multipurpose relay".to_string())
            ]
        );
        assert_eq!((seen[1].get("Package"), seen[1].line), (Some("b"), 6));
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
