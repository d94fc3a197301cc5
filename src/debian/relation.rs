//! Dependency relation fields (`Depends`, `Pre-Depends`, `Provides`, `Conflicts`, …) as
//! Debian Policy §7.1 defines them: comma-separated groups of `|` alternatives, each a package
//! name with an optional `:arch` qualifier and `(op version)` constraint. Architecture
//! restrictions (`[amd64]`) and build profiles (`<!nocheck>`) are parsed and dropped: they
//! only appear in source packages.

use super::version::{Version, VersionError};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<<`
    Lt,
    /// `<=` (and the obsolete `<`)
    Le,
    /// `=`
    Eq,
    /// `>=` (and the obsolete `>`)
    Ge,
    /// `>>`
    Gt,
}

impl Op {
    pub fn holds(self, candidate: &Version, wanted: &Version) -> bool {
        let ordering = candidate.cmp(wanted);
        match self {
            Op::Lt => ordering.is_lt(),
            Op::Le => ordering.is_le(),
            Op::Eq => ordering.is_eq(),
            Op::Ge => ordering.is_ge(),
            Op::Gt => ordering.is_gt(),
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
        }
    }
}

/// One alternative: `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    /// `any`, `native` or an architecture name.
    pub arch: Option<String>,
    pub constraint: Option<(Op, Version)>,
}

impl Relation {
    /// Whether a package (or a versioned provide) of `version` meets the constraint.
    pub fn accepts(&self, version: Option<&Version>) -> bool {
        match (&self.constraint, version) {
            (None, _) => true,
            (Some((op, wanted)), Some(version)) => op.holds(version, wanted),
            // An unversioned provide never satisfies a versioned dependency.
            (Some(_), None) => false,
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(arch) = &self.arch {
            write!(f, ":{arch}")?;
        }
        if let Some((op, version)) = &self.constraint {
            write!(f, " ({} {version})", op.symbol())?;
        }
        Ok(())
    }
}

/// A group of alternatives: any one satisfies it.
pub type Alternatives = Vec<Relation>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationError {
    #[error("`{0}`: empty alternative")]
    Empty(String),
    #[error("`{0}`: unknown relation operator `{1}`")]
    Operator(String, String),
    #[error("`{0}`: unbalanced parenthesis or bracket")]
    Unbalanced(String),
    #[error("`{0}`: invalid package name")]
    Name(String),
    #[error(transparent)]
    Version(#[from] VersionError),
}

/// Removes `[...]` architecture lists and `<...>` build profiles (outside parentheses).
fn strip_restrictions(text: &str) -> Result<String, RelationError> {
    let mut out = String::with_capacity(text.len());
    let (mut paren, mut square, mut angle) = (0i32, 0i32, 0i32);
    for c in text.chars() {
        match c {
            '(' if square == 0 && angle == 0 => {
                paren += 1;
                out.push(c);
            }
            ')' if square == 0 && angle == 0 => {
                paren -= 1;
                out.push(c);
            }
            '[' if paren == 0 => square += 1,
            ']' if paren == 0 => square -= 1,
            '<' if paren == 0 && square == 0 => angle += 1,
            '>' if paren == 0 && square == 0 => angle -= 1,
            _ if square == 0 && angle == 0 => out.push(c),
            _ => {}
        }
        if paren < 0 || square < 0 || angle < 0 {
            return Err(RelationError::Unbalanced(text.to_string()));
        }
    }
    if paren != 0 || square != 0 || angle != 0 {
        return Err(RelationError::Unbalanced(text.to_string()));
    }
    Ok(out)
}

fn parse_one(text: &str) -> Result<Relation, RelationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(RelationError::Empty(text.to_string()));
    }
    let (head, constraint) = match text.find('(') {
        Some(open) => {
            let close = text
                .rfind(')')
                .ok_or_else(|| RelationError::Unbalanced(text.to_string()))?;
            if close < open {
                return Err(RelationError::Unbalanced(text.to_string()));
            }
            let inner = text[open + 1..close].trim();
            let split = inner
                .find(|c: char| !matches!(c, '<' | '>' | '='))
                .unwrap_or(inner.len());
            let (op, version) = inner.split_at(split);
            let op = match op.trim() {
                "<<" => Op::Lt,
                "<=" | "<" => Op::Le,
                "=" => Op::Eq,
                ">=" | ">" => Op::Ge,
                ">>" => Op::Gt,
                other => return Err(RelationError::Operator(text.to_string(), other.to_string())),
            };
            (&text[..open], Some((op, Version::parse(version)?)))
        }
        None => (text, None),
    };
    let head = head.trim();
    let (name, arch) = match head.split_once(':') {
        Some((name, arch)) => (name, Some(arch.to_string())),
        None => (head, None),
    };
    let valid = name.len() >= 2
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    if !valid {
        return Err(RelationError::Name(text.to_string()));
    }
    Ok(Relation {
        name: name.to_string(),
        arch,
        constraint,
    })
}

/// Parses a whole relation field.
pub fn parse_relations(field: &str) -> Result<Vec<Alternatives>, RelationError> {
    let cleaned = strip_restrictions(field)?;
    cleaned
        .split(',')
        .map(str::trim)
        .filter(|group| !group.is_empty())
        .map(|group| group.split('|').map(parse_one).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn policy_7_1_syntax() {
        let parsed = parse_relations("libc6 (>= 2.34), libgcc-s1 (>= 3.0) | libgcc1, foo:any, bar:amd64 (<< 1:2.0~rc1), baz (= 1.0-1)").unwrap();
        assert_eq!(parsed.len(), 4 + 1);
        assert_eq!(parsed[0][0].name, "libc6");
        assert_eq!(parsed[0][0].constraint, Some((Op::Ge, v("2.34"))));
        assert_eq!(parsed[1].len(), 2);
        assert_eq!(parsed[1][1].name, "libgcc1");
        assert_eq!(parsed[2][0].arch.as_deref(), Some("any"));
        assert_eq!(parsed[3][0].constraint, Some((Op::Lt, v("1:2.0~rc1"))));
        assert_eq!(parsed[4][0].constraint, Some((Op::Eq, v("1.0-1"))));
        // Whitespace is free, and the obsolete < and > mean <= and >=.
        let loose = parse_relations("  aa(>=1) ,bb(<2)|cc  ").unwrap();
        assert_eq!(loose[0][0].constraint, Some((Op::Ge, v("1"))));
        assert_eq!(loose[1][0].constraint, Some((Op::Le, v("2"))));
        // Architecture restrictions and build profiles are dropped.
        let source =
            parse_relations("debhelper-compat (= 13), libfoo-dev [amd64 arm64] <!nocheck>, quilt")
                .unwrap();
        assert_eq!(
            source
                .iter()
                .map(|g| g[0].name.as_str())
                .collect::<Vec<_>>(),
            ["debhelper-compat", "libfoo-dev", "quilt"]
        );
    }

    #[test]
    fn operators_hold_as_policy_says() {
        let r = |s: &str| {
            parse_relations(&s.replacen("a", "aa", 1))
                .unwrap()
                .remove(0)
                .remove(0)
        };
        assert!(r("a (<< 2.0)").accepts(Some(&v("2.0~rc1"))));
        assert!(!r("a (<< 2.0)").accepts(Some(&v("2.0"))));
        assert!(r("a (<= 2.0)").accepts(Some(&v("2.0"))));
        assert!(r("a (>> 1:1.0)").accepts(Some(&v("1:1.0-1"))));
        assert!(
            !r("a (>= 1.0)").accepts(None),
            "an unversioned provide does not satisfy a versioned dependency"
        );
        assert!(r("a").accepts(None));
        assert_eq!(r("a:native (>= 1.0)").to_string(), "aa:native (>= 1.0)");
    }

    #[test]
    fn bad_fields() {
        assert!(matches!(
            parse_relations("aa (~= 1)"),
            Err(RelationError::Operator(..))
        ));
        assert!(matches!(
            parse_relations("aa (>= 1"),
            Err(RelationError::Unbalanced(_))
        ));
        assert!(matches!(parse_relations("A"), Err(RelationError::Name(_))));
        assert!(matches!(
            parse_relations("aa | , bb"),
            Err(RelationError::Empty(_))
        ));
    }
}
