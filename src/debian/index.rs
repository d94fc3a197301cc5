//! Locating the paragraphs of a large deb822 index (a `Packages` file, ~50 MB for Debian's
//! main archive) line by line, without holding the index: each paragraph is handed over with
//! its [`Location`] (byte offset, length, first line) as soon as it ends, so a reader can keep
//! a compact index and read the paragraph back later. Paragraphs are split exactly where
//! [`super::control::parse_each`] splits them (a blank or whitespace-only line ends one;
//! `#` comment lines do not), so parsing a located paragraph with
//! [`super::control::parse_each_from`] at its first line gives the same fields and the same
//! error lines as parsing the whole text. Pure: the caller reads the bytes.

use super::control::ControlError;

/// Where one paragraph is in its index text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    /// Which index text (the reader's own numbering).
    pub text: u32,
    /// Byte offset of the paragraph's first line.
    pub offset: u64,
    /// Length in bytes, from its first line to the end of its last line (line break included).
    pub len: u32,
    /// 1-based number of its first line.
    pub line: u32,
}

/// Hands over the paragraphs of one index text, fed line by line in file order.
#[derive(Debug)]
pub struct Locator {
    text: u32,
    max_paragraph: usize,
    /// Offset and number of the next line.
    offset: u64,
    number: usize,
    /// The paragraph so far (from its first line), and where it started.
    current: Vec<u8>,
    start: Option<(u64, usize)>,
}

impl Locator {
    /// A locator for index text number `text`; a paragraph longer than `max_paragraph` bytes
    /// is an error ([`ControlError::TooLong`]), so hostile input is held to that much.
    pub fn new(text: u32, max_paragraph: usize) -> Self {
        Locator {
            text,
            max_paragraph,
            offset: 0,
            number: 0,
            current: Vec::new(),
            start: None,
        }
    }

    /// Takes the next line (`raw`, with its `\n` if it has one) and hands `each` the
    /// paragraph it ends, if it ends one: its location and its bytes. Errors are the format's
    /// (a continuation line before any field, a paragraph too long) or `each`'s.
    pub fn line<E: From<ControlError>>(
        &mut self,
        raw: &[u8],
        each: impl FnMut(Location, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.number += 1;
        let at = self.offset;
        self.offset += raw.len() as u64;
        let content = raw.strip_suffix(b"\n").unwrap_or(raw);
        match classify(content) {
            Class::Blank => return self.end(each),
            Class::Comment => {
                if self.start.is_none() {
                    return Ok(());
                }
            }
            Class::Continuation => {
                if self.start.is_none() {
                    return Err(ControlError::OrphanContinuation(self.number).into());
                }
            }
            Class::Field => {
                if self.start.is_none() {
                    self.start = Some((at, self.number));
                }
            }
        }
        if self.current.len() + raw.len() > self.max_paragraph {
            let line = self.start.map_or(self.number, |(_, line)| line);
            return Err(ControlError::TooLong(line, self.max_paragraph).into());
        }
        self.current.extend_from_slice(raw);
        Ok(())
    }

    /// The line the open paragraph starts at, if one is open (for naming a paragraph whose
    /// next line is already too long to hand over).
    pub fn paragraph_start(&self) -> Option<usize> {
        self.start.map(|(_, line)| line)
    }

    /// Ends the text: hands over its last paragraph, if one is open.
    pub fn finish<E: From<ControlError>>(
        mut self,
        each: impl FnMut(Location, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.end(each)
    }

    fn end<E: From<ControlError>>(
        &mut self,
        mut each: impl FnMut(Location, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some((offset, line)) = self.start.take() else {
            return Ok(());
        };
        let location = Location {
            text: self.text,
            offset,
            // Both bounded: by max_paragraph, and by the line count of a text whose
            // offsets fit in u64 (a reader bounds the text far below u32 lines).
            len: u32::try_from(self.current.len()).unwrap_or(u32::MAX),
            line: u32::try_from(line).unwrap_or(u32::MAX),
        };
        let result = each(location, &self.current);
        self.current.clear();
        result
    }
}

/// Feeds a whole text held in memory to a [`Locator`] (tests, small indexes).
pub fn locate_all<E: From<ControlError>>(
    text: &[u8],
    number: u32,
    max_paragraph: usize,
    mut each: impl FnMut(Location, &[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut locator = Locator::new(number, max_paragraph);
    for raw in text.split_inclusive(|b| *b == b'\n') {
        locator.line(raw, &mut each)?;
    }
    locator.finish(each)
}

enum Class {
    Blank,
    Comment,
    Continuation,
    Field,
}

/// A line as `control::parse_each` sees it: trailing `\r`s dropped, blank when only
/// (Unicode) whitespace is left, invalid UTF-8 counting as a character.
fn classify(content: &[u8]) -> Class {
    match content.first() {
        Some(b'#') => Class::Comment,
        Some(first) if first.is_ascii_graphic() => Class::Field,
        _ => {
            let text = String::from_utf8_lossy(content);
            let line = text.trim_end_matches('\r');
            if line.trim().is_empty() {
                Class::Blank
            } else if line.starts_with(' ') || line.starts_with('\t') {
                Class::Continuation
            } else if line.starts_with('#') {
                Class::Comment
            } else {
                Class::Field
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debian::control::{parse, parse_each_from, Keep, Paragraph};

    fn located(text: &str) -> Result<Vec<(Location, String)>, ControlError> {
        let mut found = Vec::new();
        locate_all(text.as_bytes(), 7, 1 << 10, |at, bytes| {
            found.push((at, String::from_utf8_lossy(bytes).into_owned()));
            Ok::<(), ControlError>(())
        })?;
        Ok(found)
    }

    /// Parsing each located paragraph at its first line gives what parsing the whole text
    /// gives: the same paragraphs, fields and line numbers.
    fn reparsed(text: &str) -> Vec<Paragraph> {
        let mut paragraphs = Vec::new();
        for (at, bytes) in located(text).unwrap() {
            let slice = &text.as_bytes()[at.offset as usize..][..at.len as usize];
            assert_eq!(slice, bytes.as_bytes(), "the location points at the bytes");
            parse_each_from(
                &bytes,
                at.line as usize,
                |_| Keep::Whole,
                |p| {
                    paragraphs.push(p);
                    Ok::<(), ControlError>(())
                },
            )
            .unwrap();
        }
        paragraphs
    }

    #[test]
    fn paragraphs_are_split_where_the_parser_splits_them() {
        let text = "# head comment\n\nPackage: a\r\nVersion: 1\n# inside\nDescription: x\n y\n .\n\n \t\n\n\nPackage: b\nVersion: 2\n\u{a0}\n\u{b}\nPackage: c\nDepends: d\n";
        assert_eq!(reparsed(text), parse(text).unwrap());
        let found = located(text).unwrap();
        assert_eq!(found.len(), 3);
        assert_eq!((found[0].0.text, found[0].0.line), (7, 3));
        assert_eq!(found[0].0.offset, "# head comment\n\n".len() as u64);
        assert_eq!(
            found[2].1, "Package: c\nDepends: d\n",
            "the last one, at EOF"
        );
    }

    #[test]
    fn a_text_without_a_final_newline_or_with_invalid_utf8_still_matches() {
        let text = "Package: a\nDescription: caf\u{e9}\n\nPackage: b";
        assert_eq!(reparsed(text), parse(text).unwrap());
        let bytes = b"Package: a\nX: \xff\xfe\n\nPackage: b\n";
        let mut count = 0;
        locate_all(bytes, 0, 1 << 10, |_, _| {
            count += 1;
            Ok::<(), ControlError>(())
        })
        .unwrap();
        assert_eq!(count, 2);
    }

    #[test]
    fn orphan_continuations_and_long_paragraphs_are_errors() {
        assert_eq!(
            located("Package: a\n\n orphan\n").unwrap_err(),
            ControlError::OrphanContinuation(3)
        );
        let long = format!("Package: a\nDescription: {}\n", "x".repeat(2000));
        assert_eq!(
            located(&long).unwrap_err(),
            ControlError::TooLong(1, 1 << 10)
        );
    }
}
