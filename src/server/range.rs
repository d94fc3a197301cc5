//! HTTP `Range` for blobs (pure): one byte range, as registries and containerd use it.

/// What to send for a `Range` header and a blob of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No (usable) Range: the whole blob, 200.
    Full,
    /// Bytes `start..=end`, 206.
    Partial { start: u64, end: u64 },
    /// A well-formed range outside the blob: 416.
    Unsatisfiable,
}

/// Interprets a `Range` header. Malformed or multi-range headers are ignored (the whole blob
/// is sent), as RFC 9110 allows; a range starting past the end is unsatisfiable.
pub fn answer(header: Option<&str>, size: u64) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeAnswer::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match number(last) {
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(_) if size == 0 => RangeAnswer::Unsatisfiable,
            Some(n) => RangeAnswer::Partial {
                start: size.saturating_sub(n),
                end: size - 1,
            },
            None => RangeAnswer::Full,
        },
        // bytes=A- : from A to the end.
        (false, true) => match number(first) {
            Some(start) if start < size => RangeAnswer::Partial {
                start,
                end: size - 1,
            },
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Full,
        },
        // bytes=A-B
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(end)) if start <= end => {
                if start >= size {
                    RangeAnswer::Unsatisfiable
                } else {
                    RangeAnswer::Partial {
                        start,
                        end: end.min(size - 1),
                    }
                }
            }
            _ => RangeAnswer::Full,
        },
        (true, true) => RangeAnswer::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeAnswer::*;
        assert_eq!(answer(None, 10), Full);
        assert_eq!(answer(Some("bytes=0-0"), 10), Partial { start: 0, end: 0 });
        assert_eq!(answer(Some("bytes=3-5"), 10), Partial { start: 3, end: 5 });
        assert_eq!(answer(Some("bytes=3-"), 10), Partial { start: 3, end: 9 });
        assert_eq!(answer(Some("bytes=-4"), 10), Partial { start: 6, end: 9 });
        assert_eq!(answer(Some("bytes=-40"), 10), Partial { start: 0, end: 9 });
        assert_eq!(
            answer(Some("bytes=5-400"), 10),
            Partial { start: 5, end: 9 }
        );
        assert_eq!(answer(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(answer(Some("bytes=10-20"), 10), Unsatisfiable);
        assert_eq!(answer(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(answer(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(answer(Some("bytes=5-3"), 10), Full);
        assert_eq!(answer(Some("bytes=0-1,4-5"), 10), Full);
        assert_eq!(answer(Some("bytes=99999999999999999999999-"), 10), Full);
        assert_eq!(answer(Some("items=0-1"), 10), Full);
        assert_eq!(answer(Some("bytes=x-y"), 10), Full);
    }
}
