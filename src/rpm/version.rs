//! RPM version comparison: `rpmvercmp` as rpm 4.15+ implements it (`rpmio/rpmvercmp.c`,
//! documented in rpm's `docs/manual/dependencies.md` and tested by its `rpmvercmp.at`), and
//! `[epoch:]version[-release]` ([`Evr`]) compared epoch first (a missing epoch is 0), then
//! version, then release, where a missing release matches any release.
//!
//! rpmvercmp: the strings are split into alphanumeric segments (separators are every other
//! character and are ignored); digit segments compare numerically (leading zeros dropped)
//! and are newer than alpha segments; alpha segments compare bytewise; `~` sorts before
//! anything (even the end of the string: `1.0~rc1 < 1.0`); `^` sorts after the end of the
//! string but before any further segment (`1.0 < 1.0^git1 < 1.0.1`).

use std::cmp::Ordering;

/// Compares two version (or release) strings as `rpmvercmp` does.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (one, two) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let separator = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    while i < one.len() || j < two.len() {
        while i < one.len() && separator(one[i]) {
            i += 1;
        }
        while j < two.len() && separator(two[j]) {
            j += 1;
        }
        let (x, y) = (one.get(i).copied(), two.get(j).copied());
        if x == Some(b'~') || y == Some(b'~') {
            if x != Some(b'~') {
                return Ordering::Greater;
            }
            if y != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if x == Some(b'^') || y == Some(b'^') {
            if x.is_none() {
                return Ordering::Less;
            }
            if y.is_none() {
                return Ordering::Greater;
            }
            if x != Some(b'^') {
                return Ordering::Greater;
            }
            if y != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if x.is_none() || y.is_none() {
            break;
        }
        let numeric = one[i].is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let end_one = i + one[i..].iter().take_while(|c| class(c)).count();
        let end_two = j + two[j..].iter().take_while(|c| class(c)).count();
        if end_two == j {
            // Segments of different kinds: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut s1, mut s2) = (&one[i..end_one], &two[j..end_two]);
        let order = if numeric {
            while s1.first() == Some(&b'0') {
                s1 = &s1[1..];
            }
            while s2.first() == Some(&b'0') {
                s2 = &s2[1..];
            }
            s1.len().cmp(&s2.len()).then_with(|| s1.cmp(s2))
        } else {
            s1.cmp(s2)
        };
        if order != Ordering::Equal {
            return order;
        }
        i = end_one;
        j = end_two;
    }
    match (i >= one.len(), j >= two.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// `[epoch:]version[-release]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Evr {
    pub epoch: u32,
    pub version: String,
    /// None when not given (in a dependency: any release matches).
    pub release: Option<String>,
}

impl Evr {
    /// Parses `[epoch:]version[-release]` as rpm does (the release follows the last `-`).
    pub fn parse(text: &str) -> Result<Evr, String> {
        let text = text.trim();
        let (epoch, rest) = match text.split_once(':') {
            Some((e, rest)) if !e.is_empty() => (
                e.parse::<u32>()
                    .map_err(|_| format!("`{text}`: the epoch `{e}` is not a number"))?,
                rest,
            ),
            Some((_, rest)) => (0, rest),
            None => (0, text),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v, Some(r.to_string())),
            None => (rest, None),
        };
        if version.is_empty() {
            return Err(format!("`{text}`: no version"));
        }
        Ok(Evr {
            epoch,
            version: version.to_string(),
            release,
        })
    }

    /// From the `epoch`, `ver`, `rel` attributes of repository metadata.
    pub fn from_parts(epoch: Option<&str>, version: &str, release: Option<&str>) -> Evr {
        Evr {
            epoch: epoch.and_then(|e| e.parse().ok()).unwrap_or(0),
            version: version.to_string(),
            release: release.filter(|r| !r.is_empty()).map(str::to_string),
        }
    }

    /// Compares epoch, version, then release; a release missing on either side compares
    /// equal (as rpm matches `foo >= 1.2` against `foo-1.2-3`).
    pub fn compare(&self, other: &Evr) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| match (&self.release, &other.release) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                _ => Ordering::Equal,
            })
    }
}

impl std::fmt::Display for Evr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}:", self.epoch)?;
        }
        write!(f, "{}", self.version)?;
        if let Some(release) = &self.release {
            write!(f, "-{release}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases from rpm's own test suite (`tests/rpmvercmp.at`).
    #[test]
    fn rpmvercmp_matches_rpms_test_suite() {
        let cases: &[(&str, &str, i32)] = &[
            ("1.0", "1.0", 0),
            ("1.0", "2.0", -1),
            ("2.0", "1.0", 1),
            ("2.0.1", "2.0.1", 0),
            ("2.0", "2.0.1", -1),
            ("2.0.1", "2.0", 1),
            ("2.0.1a", "2.0.1a", 0),
            ("2.0.1a", "2.0.1", 1),
            ("2.0.1", "2.0.1a", -1),
            ("5.5p1", "5.5p1", 0),
            ("5.5p1", "5.5p2", -1),
            ("5.5p2", "5.5p1", 1),
            ("5.5p10", "5.5p10", 0),
            ("5.5p1", "5.5p10", -1),
            ("5.5p10", "5.5p1", 1),
            ("10xyz", "10.1xyz", -1),
            ("10.1xyz", "10xyz", 1),
            ("xyz10", "xyz10", 0),
            ("xyz10", "xyz10.1", -1),
            ("xyz10.1", "xyz10", 1),
            ("xyz.4", "xyz.4", 0),
            ("xyz.4", "8", -1),
            ("8", "xyz.4", 1),
            ("xyz.4", "2", -1),
            ("2", "xyz.4", 1),
            ("5.5p2", "5.6p1", -1),
            ("5.6p1", "5.5p2", 1),
            ("5.6p1", "6.5p1", -1),
            ("6.5p1", "5.6p1", 1),
            ("6.0.rc1", "6.0", 1),
            ("6.0", "6.0.rc1", -1),
            ("10b2", "10a1", 1),
            ("10a2", "10b2", -1),
            ("1.0aa", "1.0aa", 0),
            ("1.0a", "1.0aa", -1),
            ("1.0aa", "1.0a", 1),
            ("10.0001", "10.0001", 0),
            ("10.0001", "10.1", 0),
            ("10.1", "10.0001", 0),
            ("10.0001", "10.0039", -1),
            ("10.0039", "10.0001", 1),
            ("4.999.9", "5.0", -1),
            ("5.0", "4.999.9", 1),
            ("20101121", "20101121", 0),
            ("20101121", "20101122", -1),
            ("20101122", "20101121", 1),
            ("2_0", "2_0", 0),
            ("2.0", "2_0", 0),
            ("2_0", "2.0", 0),
            ("a", "a", 0),
            ("a+", "a+", 0),
            ("a+", "a_", 0),
            ("a_", "a+", 0),
            ("+a", "+a", 0),
            ("+a", "_a", 0),
            ("_a", "+a", 0),
            ("+_", "+_", 0),
            ("_+", "+_", 0),
            ("_+", "_+", 0),
            ("+", "_", 0),
            ("_", "+", 0),
            ("1.0~rc1", "1.0~rc1", 0),
            ("1.0~rc1", "1.0", -1),
            ("1.0", "1.0~rc1", 1),
            ("1.0~rc1", "1.0~rc2", -1),
            ("1.0~rc2", "1.0~rc1", 1),
            ("1.0~rc1~git123", "1.0~rc1~git123", 0),
            ("1.0~rc1~git123", "1.0~rc1", -1),
            ("1.0~rc1", "1.0~rc1~git123", 1),
            ("1.0^", "1.0^", 0),
            ("1.0^", "1.0", 1),
            ("1.0", "1.0^", -1),
            ("1.0^git1", "1.0^git1", 0),
            ("1.0^git1", "1.0", 1),
            ("1.0", "1.0^git1", -1),
            ("1.0^git1", "1.0^git2", -1),
            ("1.0^git2", "1.0^git1", 1),
            ("1.0^git1", "1.01", -1),
            ("1.01", "1.0^git1", 1),
            ("1.0^20160101", "1.0^20160101", 0),
            ("1.0^20160101", "1.0.1", -1),
            ("1.0.1", "1.0^20160101", 1),
            ("1.0^20160101^git1", "1.0^20160101^git1", 0),
            ("1.0^20160102", "1.0^20160101^git1", 1),
            ("1.0^20160101^git1", "1.0^20160102", -1),
            ("1.0~rc1^git1", "1.0~rc1^git1", 0),
            ("1.0~rc1^git1", "1.0~rc1", 1),
            ("1.0~rc1", "1.0~rc1^git1", -1),
            ("1.0^git1~pre", "1.0^git1~pre", 0),
            ("1.0^git1", "1.0^git1~pre", 1),
            ("1.0^git1~pre", "1.0^git1", -1),
        ];
        for &(a, b, want) in cases {
            let got = match rpmvercmp(a, b) {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            };
            assert_eq!(got, want, "rpmvercmp({a:?}, {b:?})");
        }
    }

    #[test]
    fn evr_compares_epoch_first_and_a_missing_release_matches_any() {
        let evr = |s: &str| Evr::parse(s).unwrap();
        assert_eq!(evr("1:1.0-1").compare(&evr("2.0-1")), Ordering::Greater);
        assert_eq!(evr("0:1.0-1").compare(&evr("1.0-1")), Ordering::Equal);
        assert_eq!(evr("1.2").compare(&evr("1.2-7.el9")), Ordering::Equal);
        assert_eq!(evr("1.2-1").compare(&evr("1.2-2")), Ordering::Less);
        assert_eq!(evr("2:1.0-1").to_string(), "2:1.0-1");
        assert_eq!(evr("1.0-rc-1").release.as_deref(), Some("1"));
        assert!(Evr::parse("x:1").is_err());
    }
}
