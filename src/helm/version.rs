//! Chart version constraints as Helm reads them (Masterminds semver v3, which Helm 3 uses):
//! exact versions (`1.2.3`, `v1.2.3`, `=1.2.3`), partial versions and wildcards (`1.2`,
//! `1.2.*`, `1.2.x`, `1.x`, `*`), `~` and `~>`, `^`, comparisons (`>`, `>=`/`=>`, `<`,
//! `<=`/`=<`, `!=`; an operator may stand apart from its version) joined by spaces or commas
//! (all must hold), hyphen ranges (`1.2 - 1.4.5`), and `||` between alternatives. The
//! highest matching version wins.
//!
//! Pre-releases: a pre-release version (`1.3.0-rc.1`) matches an alternative only when one
//! of that alternative's comparators names a pre-release (`>=1.3.0-0`, `1.3.0-rc.1`,
//! `*-0`), as Masterminds v3 decides it per `,`-joined group; then ordinary semver order
//! applies. Build metadata (`+build`) is ignored when comparing, as semver says.

use semver::{BuildMetadata, Prerelease, Version};
use std::cmp::Ordering;

/// A parsed constraint: alternatives (`||`) of comparators that must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    alternatives: Vec<Vec<Comparator>>,
    text: String,
}

/// How much of a constraint's version was written (the rest is a wildcard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Given {
    /// `*`, `x`: nothing.
    Nothing,
    /// `1`, `1.x`, `1.*.*`: the major version.
    Major,
    /// `1.2`, `1.2.x`: major and minor.
    Minor,
    /// `1.2.3`: all of it.
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    Tilde,
    Caret,
}

/// One comparator: an operator and a version whose missing parts are zero.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Version,
    given: Given,
}

/// Operators, longest first so `>=` is not read as `>`.
const OPERATORS: &[(&str, Op)] = &[
    ("!=", Op::NotEqual),
    (">=", Op::GreaterEqual),
    ("=>", Op::GreaterEqual),
    ("<=", Op::LessEqual),
    ("=<", Op::LessEqual),
    ("~>", Op::Tilde),
    (">", Op::Greater),
    ("<", Op::Less),
    ("~", Op::Tilde),
    ("^", Op::Caret),
    ("=", Op::Equal),
];

impl Constraint {
    /// Parses a constraint; the error names the part that is not a version or range.
    pub fn parse(text: &str) -> Result<Constraint, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty version".into());
        }
        let alternatives = text
            .split("||")
            .map(parse_group)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Constraint {
            alternatives,
            text: text.to_string(),
        })
    }

    /// Whether `version` (as an index or a tag writes it; a leading `v` allowed) matches.
    pub fn matches(&self, version: &str) -> bool {
        parse_version(version).is_some_and(|v| self.matches_version(&v))
    }

    /// Whether a parsed version matches.
    pub fn matches_version(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|group| {
            let pre_allowed = group.iter().any(|c| !c.version.pre.is_empty());
            (version.pre.is_empty() || pre_allowed) && group.iter().all(|c| c.matches(version))
        })
    }

    /// The highest of `versions` that matches, as written (versions that do not parse are
    /// skipped).
    pub fn highest<'a>(&self, versions: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
        versions
            .into_iter()
            .filter_map(|text| {
                let parsed = parse_version(text)?;
                self.matches_version(&parsed).then_some((parsed, text))
            })
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, text)| text)
    }

    /// The constraint as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// One `||` alternative: comparators separated by spaces or commas, an operator possibly
/// apart from its version, `A - B` a hyphen range.
fn parse_group(group: &str) -> Result<Vec<Comparator>, String> {
    let tokens = group
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>();
    if tokens.is_empty() {
        return Err(format!("an empty alternative in {group:?}"));
    }
    let mut comparators = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let mut token = tokens[i].to_string();
        i += 1;
        if token.chars().all(|c| "<>=~^!".contains(c)) {
            let Some(next) = tokens.get(i) else {
                return Err(format!("{token:?} is not followed by a version"));
            };
            token.push_str(next);
            i += 1;
        }
        if tokens.get(i) == Some(&"-") {
            let Some(upper) = tokens.get(i + 1) else {
                return Err(format!("the range {token} - has no upper end"));
            };
            if token.starts_with(|c: char| "<>=~^!".contains(c)) {
                return Err(format!(
                    "{token} - {upper}: a range's ends are plain versions"
                ));
            }
            comparators.push(parse_comparator(&format!(">={token}"))?);
            comparators.push(parse_comparator(&format!("<={upper}"))?);
            i += 2;
            continue;
        }
        comparators.push(parse_comparator(&token)?);
    }
    Ok(comparators)
}

fn parse_comparator(text: &str) -> Result<Comparator, String> {
    let (op, rest) = OPERATORS
        .iter()
        .find_map(|(prefix, op)| text.strip_prefix(prefix).map(|rest| (*op, rest)))
        .unwrap_or((Op::Equal, text));
    let not_version = || format!("{text:?} is not a version or semver range");
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let (core, pre, build) = split_version(rest);
    let wildcard = |part: &str| matches!(part, "x" | "X" | "*");
    let number = |part: &str| -> Result<u64, String> {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_version());
        }
        part.parse().map_err(|_| not_version())
    };
    let parts = core.split('.').collect::<Vec<_>>();
    if parts.len() > 3 {
        return Err(not_version());
    }
    let mut numbers = [0u64; 3];
    let mut given = Given::Full;
    for (index, part) in parts.iter().enumerate() {
        if wildcard(part) {
            given = [Given::Nothing, Given::Major, Given::Minor][index];
            break;
        }
        numbers[index] = number(part)?;
    }
    if given == Given::Full && parts.len() < 3 {
        given = [Given::Nothing, Given::Major, Given::Minor][parts.len()];
    }
    let mut version = Version::new(numbers[0], numbers[1], numbers[2]);
    if let Some(pre) = pre {
        version.pre = Prerelease::new(pre)
            .ok()
            .filter(|p| !p.is_empty())
            .ok_or_else(not_version)?;
    }
    if build.is_some_and(|b| BuildMetadata::new(b).map_or(true, |b| b.is_empty())) {
        return Err(not_version());
    }
    Ok(Comparator { op, version, given })
}

/// `1.2.3-rc.1+build` → (`1.2.3`, `rc.1`, `build`).
fn split_version(text: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, build) = match text.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (text, None),
    };
    match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre), build),
        None => (rest, None, build),
    }
}

impl Comparator {
    /// Masterminds' reading of one comparator (the pre-release gate is the group's).
    fn matches(&self, v: &Version) -> bool {
        let c = &self.version;
        let order = v.cmp_precedence(c);
        if self.given == Given::Nothing {
            // `*`, `>=*`, `~*`, `^*`: any version; `>*`, `<*`, `!=*` as the zero version.
            return match self.op {
                Op::Greater => order == Ordering::Greater,
                Op::Less => order == Ordering::Less,
                Op::NotEqual => false,
                _ => true,
            };
        }
        let major_only = self.given == Given::Major;
        let to_minor = self.given == Given::Minor;
        match self.op {
            Op::Equal if self.given == Given::Full => order == Ordering::Equal,
            // `~0.0.0` is any version, as in Masterminds.
            Op::Tilde if self.given == Given::Full && *c == Version::new(0, 0, 0) => true,
            Op::Equal | Op::Tilde => {
                order != Ordering::Less && v.major == c.major && (major_only || v.minor == c.minor)
            }
            Op::NotEqual => match self.given {
                Given::Full => order != Ordering::Equal,
                _ if v.major != c.major => true,
                Given::Major => false,
                _ => v.minor != c.minor,
            },
            Op::Greater => match self.given {
                Given::Full => order == Ordering::Greater,
                _ if v.major != c.major => v.major > c.major,
                Given::Major => false,
                _ => v.minor > c.minor,
            },
            Op::GreaterEqual => order != Ordering::Less,
            Op::Less => order == Ordering::Less,
            Op::LessEqual => match self.given {
                Given::Full => order != Ordering::Greater,
                _ => {
                    v.major < c.major || (v.major == c.major && (major_only || v.minor <= c.minor))
                }
            },
            Op::Caret => {
                if order == Ordering::Less {
                    false
                } else if c.major > 0 || major_only {
                    v.major == c.major
                } else if v.major > 0 {
                    false
                } else if c.minor > 0 || to_minor {
                    v.minor == c.minor
                } else {
                    v.minor == 0 && v.patch == c.patch
                }
            }
        }
    }
}

/// A version as Helm accepts one (Masterminds `NewVersion`): a leading `v`, one to three
/// numeric parts (`1.2` is `1.2.0`), an optional `-pre-release` and `+build`.
pub fn parse_version(text: &str) -> Option<Version> {
    let text = text.trim();
    let text = text.strip_prefix('v').unwrap_or(text);
    let (core, pre, build) = split_version(text);
    let mut numbers = [0u64; 3];
    let parts = core.split('.').collect::<Vec<_>>();
    if parts.len() > 3 {
        return None;
    }
    for (index, part) in parts.iter().enumerate() {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        numbers[index] = part.parse().ok()?;
    }
    let mut version = Version::new(numbers[0], numbers[1], numbers[2]);
    if let Some(pre) = pre {
        version.pre = Prerelease::new(pre).ok().filter(|p| !p.is_empty())?;
    }
    if let Some(build) = build {
        version.build = BuildMetadata::new(build).ok().filter(|b| !b.is_empty())?;
    }
    Some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yes(constraint: &str, versions: &[&str]) {
        let c = Constraint::parse(constraint).unwrap();
        for v in versions {
            assert!(c.matches(v), "{constraint} should match {v}");
        }
    }

    fn no(constraint: &str, versions: &[&str]) {
        let c = Constraint::parse(constraint).unwrap();
        for v in versions {
            assert!(!c.matches(v), "{constraint} should not match {v}");
        }
    }

    #[test]
    fn exact_versions_match_only_themselves() {
        yes("1.2.3", &["1.2.3", "v1.2.3", "1.2.3+build.5"]);
        no("1.2.3", &["1.2.4", "1.2.2", "1.3.0", "2.0.0", "1.2.3-rc.1"]);
        yes("v1.2.3", &["1.2.3"]);
        yes("=1.2.3", &["1.2.3"]);
        yes("= 1.2.3", &["1.2.3"]);
        // Unlike Cargo, a bare version is not a caret range.
        no("1.2.3", &["1.9.0"]);
    }

    #[test]
    fn wildcards_and_partial_versions() {
        for c in ["1.2.*", "1.2.x", "1.2.X", "1.2", "=1.2", "~1.2"] {
            yes(c, &["1.2.0", "1.2.3", "1.2.99"]);
            no(c, &["1.1.9", "1.3.0", "2.2.0", "1.2.4-beta.1"]);
        }
        for c in ["1.*", "1.x", "1", "1.x.x", "~1"] {
            yes(c, &["1.0.0", "1.2.3", "1.99.0"]);
            no(c, &["0.9.9", "2.0.0"]);
        }
        for c in ["*", "x", ">=0", "~*", "^*"] {
            yes(c, &["0.0.1", "1.2.3", "99.0.0"]);
            no(c, &["1.0.0-rc.1"]);
        }
        yes("*-0", &["1.0.0-rc.1", "1.0.0"]);
    }

    #[test]
    fn tilde_and_caret() {
        yes("~1.2.3", &["1.2.3", "1.2.9"]);
        no("~1.2.3", &["1.2.2", "1.3.0"]);
        yes("~>1.2", &["1.2.0", "1.2.5"]);
        no("~>1.2", &["1.3.0"]);
        yes("^1.2", &["1.2.0", "1.9.9"]);
        no("^1.2", &["1.1.9", "2.0.0"]);
        yes("^1.2.3", &["1.2.3", "1.8.0"]);
        no("^1.2.3", &["1.2.2", "2.0.0"]);
        yes("^0.2.3", &["0.2.3", "0.2.9"]);
        no("^0.2.3", &["0.3.0", "0.2.2", "1.0.0"]);
        yes("^0.0.3", &["0.0.3"]);
        no("^0.0.3", &["0.0.4", "0.1.0"]);
        yes("^0.0", &["0.0.0", "0.0.9"]);
        no("^0.0", &["0.1.0"]);
        yes("^0", &["0.0.1", "0.9.0"]);
        no("^0", &["1.0.0"]);
    }

    #[test]
    fn comparisons_joined_by_spaces_or_commas() {
        for c in [
            ">=1.0 <2.0",
            ">=1.0, <2.0",
            ">= 1.0, < 2.0",
            "=>1.0 <2",
            ">=1.0,<2.0",
        ] {
            yes(c, &["1.0.0", "1.5.0", "1.99.99"]);
            no(c, &["0.9.9", "2.0.0", "1.5.0-beta.1"]);
        }
        yes(">1.2", &["1.3.0"]);
        no(">1.2", &["1.2.9", "1.2.0"]);
        yes(">1", &["2.0.0"]);
        no(">1", &["1.9.0"]);
        yes(">1.2.3", &["1.2.4"]);
        no(">1.2.3", &["1.2.3"]);
        yes("<=1.2", &["1.2.9", "0.1.0"]);
        no("<=1.2", &["1.3.0"]);
        yes("=<1.2.3", &["1.2.3"]);
        no("<1.2", &["1.2.0"]);
        yes("!=1.2.3", &["1.2.4"]);
        no("!=1.2.3", &["1.2.3"]);
        no("!=1.2.x", &["1.2.7"]);
        yes("!=1.2.x", &["1.3.0"]);
    }

    #[test]
    fn alternatives_and_hyphen_ranges() {
        yes("1.2.3 || 2.x", &["1.2.3", "2.0.0", "2.9.1"]);
        no("1.2.3 || 2.x", &["1.2.4", "3.0.0"]);
        yes("1.2 - 1.4.5", &["1.2.0", "1.4.5", "1.3.9"]);
        no("1.2 - 1.4.5", &["1.1.9", "1.4.6"]);
        yes("1.2 - 1.4", &["1.4.9"]);
        yes("<1.0 || >=2.0 <3", &["0.5.0", "2.5.0"]);
        no("<1.0 || >=2.0 <3", &["1.5.0", "3.0.0"]);
    }

    #[test]
    fn pre_releases_only_when_the_constraint_names_one() {
        no(">=1.0.0", &["1.2.0-rc.1"]);
        no("^1.0.0", &["1.2.0-rc.1"]);
        no("1.2.x", &["1.2.1-rc.1"]);
        yes(">=1.2.0-0", &["1.2.0-rc.1", "1.5.0-alpha", "1.2.0"]);
        // Named anywhere in its `,`-joined group, the whole group lets pre-releases in.
        yes(">=1.0.0-0 <2.0.0", &["1.5.0-beta.1"]);
        // Then plain semver order: 2.0.0-rc.1 comes before 2.0.0 (Cargo would refuse it).
        yes(">=1.0.0-0 <2.0.0", &["2.0.0-rc.1"]);
        no(">=1.0.0-0 <2.0.0", &["2.0.0", "0.9.0-rc.1"]);
        // ...but not in another alternative.
        no("1.0.0-rc.1 || >=1.0.0", &["1.5.0-beta.1"]);
        yes("1.2.3-rc.1", &["1.2.3-rc.1"]);
        no("1.2.3-rc.1", &["1.2.3-rc.2", "1.2.3"]);
        yes("~1.2.3-beta", &["1.2.3-beta.2", "1.2.3", "1.2.9"]);
        no("~1.2.3-beta", &["1.2.3-alpha"]);
    }

    #[test]
    fn highest_picks_the_greatest_match_as_written() {
        let c = Constraint::parse("1.2.*").unwrap();
        let versions = ["1.2.9", "1.2.10", "v1.2.11", "1.3.0", "1.2.12-rc.1", "junk"];
        assert_eq!(c.highest(versions), Some("v1.2.11"));
        assert_eq!(Constraint::parse("3.x").unwrap().highest(versions), None);
        let c = Constraint::parse(">=1.2.12-0 <1.3").unwrap();
        assert_eq!(c.highest(versions), Some("1.2.12-rc.1"));
        assert_eq!(c.as_str(), ">=1.2.12-0 <1.3");
    }

    #[test]
    fn bad_constraints_are_refused() {
        for bad in [
            "", "  ", "abc", "1.2.3.4", ">=", "1.a", "1.2 -", ">=1 - 2", "1.2.3-",
        ] {
            assert!(Constraint::parse(bad).is_err(), "{bad:?} accepted");
        }
        let message = Constraint::parse(">=1.0 <two").unwrap_err();
        assert!(message.contains("<two"), "{message}");
    }

    #[test]
    fn versions_as_helm_reads_them() {
        assert_eq!(parse_version("v1.2.3"), Some(Version::new(1, 2, 3)));
        assert_eq!(parse_version("1.2"), Some(Version::new(1, 2, 0)));
        assert_eq!(parse_version("1"), Some(Version::new(1, 0, 0)));
        assert_eq!(parse_version("01.2.3"), Some(Version::new(1, 2, 3)));
        let pre = parse_version("1.2-rc.1+b7").unwrap();
        assert_eq!(pre.to_string(), "1.2.0-rc.1+b7");
        for bad in [
            "", "v", "1.2.3.4", "1..2", "latest", "1.2.3-", "1.2.3+", "-1.0.0",
        ] {
            assert_eq!(parse_version(bad), None, "{bad:?}");
        }
    }
}
