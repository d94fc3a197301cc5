//! Debian version numbers (`[epoch:]upstream[-revision]`) and their ordering, as dpkg
//! defines it (Debian Policy §5.6.12): `~` sorts before everything, even the end of a part.

use std::cmp::Ordering;
use std::fmt;

/// A parsed Debian version.
#[derive(Debug, Clone, Eq)]
pub struct Version {
    pub epoch: u64,
    pub upstream: String,
    pub revision: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Debian version: {1}")]
pub struct VersionError(pub String, pub &'static str);

impl Version {
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let text = text.trim();
        let bad = |why| VersionError(text.to_string(), why);
        if text.is_empty() {
            return Err(bad("empty"));
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest)) => (
                epoch
                    .parse::<u64>()
                    .map_err(|_| bad("the epoch is not a number"))?,
                rest,
            ),
            None => (0, text),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((upstream, revision)) => (upstream, revision),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(bad("empty upstream version"));
        }
        if !upstream.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            return Err(bad("the upstream version must start with a digit"));
        }
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b".+~-:".contains(&b);
        if !upstream.bytes().all(allowed)
            || !revision
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b))
        {
            return Err(bad("it has characters a version may not contain"));
        }
        Ok(Version {
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
        })
    }
}

/// The weight of a non-digit character in dpkg's comparison.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternate non-digit and digit runs.
fn compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit prefix.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let bc = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        // Digit run, numerically (leading zeros ignored, any length).
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let start_a = i;
        let start_b = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (da, db) = (&a[start_a..i], &b[start_b..j]);
        match da.len().cmp(&db.len()).then_with(|| da.cmp(db)) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(&self.upstream, &other.upstream))
            .then_with(|| compare_part(&self.revision, &other.revision))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch > 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.upstream)?;
        if !self.revision.is_empty() {
            write!(f, "-{}", self.revision)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn policy_5_6_12_tilde_ordering() {
        // "~~" < "~~a" < "~" < "" < "a", as Policy §5.6.12 lists them.
        let ordered = ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("1.0~rc1-1") < v("1.0-1"));
    }

    #[test]
    fn epochs_revisions_and_numbers() {
        assert!(v("1:1.0") > v("2.0"));
        assert!(v("2:0.1") > v("1:9.9"));
        assert_eq!(v("0:1.0"), v("1.0"));
        assert!(v("1.0-2") > v("1.0-1"));
        assert!(v("1.0-10") > v("1.0-9"));
        assert!(v("1.10") > v("1.9"));
        assert_eq!(v("1.001"), v("1.1"));
        assert!(v("1.0+b1") > v("1.0"));
        assert!(v("1.0.1") > v("1.0"));
        assert!(v("2.36-9+deb12u4") > v("2.36-9"));
        assert!(v("1.0a") < v("1.0b"));
        assert!(v("1.0-1.1") > v("1.0-1"));
        assert!(v("7.88.1-10+deb12u5") < v("7.88.1-10+deb12u10"));
        assert_eq!(v("1:2.3-4").to_string(), "1:2.3-4");
        assert_eq!(v("2.3").revision, "");
        assert_eq!(v("1.2-3-4").upstream, "1.2-3");
    }

    #[test]
    fn bad_versions() {
        assert!(Version::parse("").is_err());
        assert!(Version::parse("a1.0").is_err());
        assert!(Version::parse("x:1.0").is_err());
        assert!(Version::parse("1.0 beta").is_err());
    }
}
