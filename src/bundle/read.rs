//! The one tar reader of a bundle: members in order, each named by the layout grammar
//! (`entries::classify`) and checked to lie inside the file, over a tar or its parts.
//!
//! Two ways to go through the same members: [`TarReader::seeking`] jumps over blob data (the
//! header scan that opens a bundle for serving, the delta base), [`TarReader::sequential`]
//! reads everything in order (inspect, verify, load). What each caller does with a member
//! is its own business; this module only yields them and reads small ones.

use super::entries::{classify, padding, BadEntry, LayoutName};
use super::parts::PartsError;
use std::io::{Read, Seek};

/// Why the tar cannot be read further.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Reading failed, or the file ended early.
    #[error("{0}")]
    Io(std::io::Error),
    /// A part of a split bundle failed its sha256 as the read passed its end.
    #[error(transparent)]
    Part(PartsError),
    /// An entry the layout does not allow (`..`, links, devices, other names).
    #[error(transparent)]
    BadEntry(#[from] BadEntry),
    #[error("entry `{name}` needs {needs} bytes but the file ends at byte {file_len}")]
    Truncated {
        name: String,
        needs: u64,
        file_len: u64,
    },
    #[error("duplicate tar entry `{0}`: a bundle holds each file once")]
    Duplicate(String),
    #[error("entry size {0} is impossible")]
    ImpossibleSize(u64),
    #[error("`{name}` is larger than {limit} bytes (a bundle's head is small; this one is hostile or damaged)")]
    TooLarge { name: String, limit: u64 },
}

impl From<std::io::Error> for ReadError {
    /// A damaged part reported by the checking reader keeps its own error.
    fn from(e: std::io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<PartsError>()) {
            if let Some(Ok(part)) = e.into_inner().map(|inner| inner.downcast::<PartsError>()) {
                return ReadError::Part(*part);
            }
            return ReadError::Io(std::io::Error::other("a part is damaged"));
        }
        ReadError::Io(e)
    }
}

/// One tar member: what its name means, where its data lies, and its data as a reader.
pub struct Member<'a, R: Read> {
    pub name: LayoutName,
    /// The raw path, for messages.
    pub path: String,
    /// Offset of the data in the bundle, and its size.
    pub offset: u64,
    pub size: u64,
    entry: tar::Entry<'a, R>,
}

impl<R: Read> Member<'_, R> {
    /// Reads the whole data of a member that must be at most `limit` bytes.
    pub fn read_small(&mut self, limit: u64) -> Result<Vec<u8>, ReadError> {
        let mut bytes = Vec::new();
        (&mut self.entry).take(limit + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            return Err(ReadError::TooLarge {
                name: self.path.clone(),
                limit,
            });
        }
        Ok(bytes)
    }
}

impl<R: Read> Read for Member<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.entry.read(buf)
    }
}

/// A bundle's tar over any reader of its bytes (a tar, or all its parts as one range).
pub struct TarReader<R: Read> {
    archive: tar::Archive<R>,
    file_len: u64,
}

impl<R: Read> TarReader<R> {
    /// A reader of `file_len` bytes of tar.
    pub fn new(reader: R, file_len: u64) -> Self {
        TarReader {
            archive: tar::Archive::new(reader),
            file_len,
        }
    }

    /// Every member, reading all data in order.
    pub fn sequential(&mut self) -> Result<Members<'_, R>, ReadError> {
        Ok(Members::over(self.archive.entries()?, self.file_len))
    }

    /// The reader, positioned after what was read (e.g. to read the end-of-archive blocks).
    pub fn into_inner(self) -> R {
        self.archive.into_inner()
    }
}

impl<R: Read + Seek> TarReader<R> {
    /// Every member, seeking over data that is not read.
    pub fn seeking(&mut self) -> Result<Members<'_, R>, ReadError> {
        Ok(Members::over(
            self.archive.entries_with_seek()?,
            self.file_len,
        ))
    }
}

/// The members of a bundle's tar, in order.
pub struct Members<'a, R: Read> {
    entries: tar::Entries<'a, R>,
    file_len: u64,
    /// Where the data of the last member read well starts: damage is at or after it.
    pub last_start: u64,
    /// Where the last member read well ends, padding included.
    pub end_of_members: u64,
}

impl<'a, R: Read> Members<'a, R> {
    fn over(entries: tar::Entries<'a, R>, file_len: u64) -> Self {
        Members {
            entries,
            file_len,
            last_start: 0,
            end_of_members: 0,
        }
    }

    fn member(&mut self, entry: tar::Entry<'a, R>) -> Result<Member<'a, R>, ReadError> {
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = classify(&entry.path_bytes(), entry.header().entry_type())?;
        let (offset, size) = (entry.raw_file_position(), entry.size());
        let end = offset
            .checked_add(size)
            .and_then(|e| e.checked_add(padding(size) as u64))
            .ok_or(ReadError::ImpossibleSize(size))?;
        self.last_start = offset;
        self.end_of_members = end;
        if end > self.file_len {
            return Err(ReadError::Truncated {
                name: path,
                needs: end,
                file_len: self.file_len,
            });
        }
        Ok(Member {
            name,
            path,
            offset,
            size,
            entry,
        })
    }
}

impl<'a, R: Read> Iterator for Members<'a, R> {
    type Item = Result<Member<'a, R>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = match self.entries.next()? {
            Ok(entry) => entry,
            Err(e) => return Some(Err(e.into())),
        };
        Some(self.member(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::entries::write_small;

    fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (path, data) in entries {
            write_small(&mut out, path, data).unwrap();
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    #[test]
    fn members_are_named_located_and_bounded() {
        let hex = "b".repeat(64);
        let blob = format!("blobs/sha256/{hex}");
        let bytes = tar(&[("index.json", b"{}"), (blob.as_str(), b"data")]);
        let mut tar = TarReader::new(std::io::Cursor::new(&bytes), bytes.len() as u64);
        let members: Vec<(LayoutName, u64, u64)> = tar
            .seeking()
            .unwrap()
            .map(|m| m.map(|m| (m.name, m.offset, m.size)).unwrap())
            .collect();
        assert_eq!(members[0], (LayoutName::Index, 512, 2));
        assert!(matches!(members[1].0, LayoutName::Blob(_)));
        assert_eq!(&bytes[members[1].1 as usize..][..4], b"data");

        // Cut inside the blob's padding: named, with the length it needs.
        let cut = &bytes[..1024 + 512 + 100];
        let mut tar = TarReader::new(cut, cut.len() as u64);
        let err = tar.sequential().unwrap().find_map(Result::err).unwrap();
        assert_eq!(
            err.to_string(),
            format!("entry `{blob}` needs 2048 bytes but the file ends at byte 1636")
        );

        // A small member over its limit is refused by name.
        let mut tar = TarReader::new(&bytes[..], bytes.len() as u64);
        let mut members = tar.sequential().unwrap();
        let mut index = members.next().unwrap().unwrap();
        assert!(matches!(
            index.read_small(1),
            Err(ReadError::TooLarge { limit: 1, .. })
        ));
    }

    #[test]
    fn hostile_names_stop_the_read() {
        let bytes = tar(&[("notes.txt", b"x")]);
        let mut tar = TarReader::new(&bytes[..], bytes.len() as u64);
        let err = tar.sequential().unwrap().find_map(Result::err).unwrap();
        assert_eq!(
            err.to_string(),
            "tar entry `notes.txt` is not allowed in a bundle: unexpected file"
        );
    }
}
