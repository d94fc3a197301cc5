//! RPM dependencies: a simple one (`name`, `name >= 1.2`, `name = 1:2.0-1`, `/usr/bin/foo`)
//! and rich (boolean) ones as rpm 4.14+ writes them (rpm's `docs/manual/boolean_dependencies.md`):
//! `(a or b)`, `(a and b)`, `(a if b)`, `(a if b else c)`, `(a unless b)`,
//! `(a unless b else c)`, `(a with b)`, `(a without b)`, nested with parentheses. `and`, `or`
//! and `with` chain (`(a or b or c)`); other operators take two operands; mixing operators
//! needs parentheses, as rpm requires.
//!
//! Whether a provide satisfies a requirement follows rpm's range overlap (`rpmdsCompare`).

use super::version::Evr;
use std::cmp::Ordering;

/// A comparison of a versioned dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    /// From the `flags` attribute of repository metadata (`LT`, `LE`, `EQ`, `GE`, `GT`).
    pub fn from_flags(flags: &str) -> Option<Op> {
        Some(match flags {
            "LT" => Op::Lt,
            "LE" => Op::Le,
            "EQ" => Op::Eq,
            "GE" => Op::Ge,
            "GT" => Op::Gt,
            _ => return None,
        })
    }

    fn from_symbol(symbol: &str) -> Option<Op> {
        Some(match symbol {
            "<" => Op::Lt,
            "<=" | "=<" => Op::Le,
            "=" | "==" => Op::Eq,
            ">=" | "=>" => Op::Ge,
            ">" => Op::Gt,
            _ => return None,
        })
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }

    fn less(self) -> bool {
        matches!(self, Op::Lt | Op::Le)
    }
    fn greater(self) -> bool {
        matches!(self, Op::Gt | Op::Ge)
    }
    fn equal(self) -> bool {
        matches!(self, Op::Le | Op::Eq | Op::Ge)
    }
}

/// One simple dependency: a name (a package, a virtual provide, a file path, a `soname()`),
/// optionally with a version range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dep {
    pub name: String,
    pub range: Option<(Op, Evr)>,
}

impl Dep {
    /// An unversioned dependency.
    pub fn name(name: &str) -> Dep {
        Dep {
            name: name.to_string(),
            range: None,
        }
    }

    /// Parses `name`, `name OP [epoch:]version[-release]`.
    pub fn parse(text: &str) -> Result<Dep, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            [name] => Ok(Dep::name(name)),
            [name, op, evr] => {
                let op = Op::from_symbol(op).ok_or_else(|| {
                    format!("`{text}`: `{op}` is not a comparison (use <, <=, =, >=, >)")
                })?;
                Ok(Dep {
                    name: name.to_string(),
                    range: Some((op, Evr::parse(evr)?)),
                })
            }
            _ => Err(format!(
                "`{text}` is not `name` or `name OP version` (e.g. `iptables >= 1.8`)"
            )),
        }
    }

    /// Whether this provide (or package `name = evr`) satisfies `requirement`: the names are
    /// equal and the ranges overlap (`rpmdsCompare`); an unversioned side matches anything.
    pub fn satisfies(&self, requirement: &Dep) -> bool {
        self.name == requirement.name && ranges_overlap(&self.range, &requirement.range)
    }
}

/// rpm's range overlap of two versioned dependencies of the same name.
pub fn ranges_overlap(a: &Option<(Op, Evr)>, b: &Option<(Op, Evr)>) -> bool {
    overlap(
        a.as_ref().map(|(op, evr)| (*op, evr)),
        b.as_ref().map(|(op, evr)| (*op, evr)),
    )
}

/// Whether package `name = evr` satisfies `requirement` (as [`Dep::satisfies`] of its
/// self-provide, without building one).
pub fn evr_satisfies(name: &str, evr: &Evr, requirement: &Dep) -> bool {
    name == requirement.name
        && overlap(
            Some((Op::Eq, evr)),
            requirement.range.as_ref().map(|(op, evr)| (*op, evr)),
        )
}

/// [`ranges_overlap`] over borrowed ranges.
fn overlap(a: Option<(Op, &Evr)>, b: Option<(Op, &Evr)>) -> bool {
    let (Some((op_a, evr_a)), Some((op_b, evr_b))) = (a, b) else {
        return true;
    };
    match evr_a.compare(evr_b) {
        Ordering::Less => op_a.greater() || op_b.less(),
        Ordering::Greater => op_a.less() || op_b.greater(),
        Ordering::Equal => {
            (op_a.equal() && op_b.equal())
                || (op_a.less() && op_b.less())
                || (op_a.greater() && op_b.greater())
        }
    }
}

impl std::fmt::Display for Dep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.range {
            Some((op, evr)) => write!(f, "{} {} {evr}", self.name, op.symbol()),
            None => write!(f, "{}", self.name),
        }
    }
}

/// A requirement: simple, or a boolean expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Req {
    Simple(Dep),
    And(Vec<Req>),
    Or(Vec<Req>),
    /// `(a if b)`, `(a if b else c)`: a when b is installed (else c).
    If(Box<Req>, Box<Req>, Option<Box<Req>>),
    /// `(a unless b)`, `(a unless b else c)`: a when b is not installed (else c).
    Unless(Box<Req>, Box<Req>, Option<Box<Req>>),
    /// One package satisfying all of these.
    With(Vec<Req>),
    /// One package satisfying a and not b.
    Without(Box<Req>, Box<Req>),
}

impl Req {
    /// Parses a requirement as repository metadata or a manifest writes it: a rich
    /// dependency when it starts with `(`, else a simple one.
    pub fn parse(text: &str) -> Result<Req, String> {
        let text = text.trim();
        if !text.starts_with('(') {
            return Dep::parse(text).map(Req::Simple);
        }
        let tokens = tokenize(text);
        let mut at = 0;
        let req = parse_group(&tokens, &mut at, 1).map_err(|e| format!("`{text}`: {e}"))?;
        if at != tokens.len() {
            return Err(format!("`{text}`: text after the closing parenthesis"));
        }
        Ok(req)
    }
}

impl std::fmt::Display for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join = |f: &mut std::fmt::Formatter<'_>, items: &[Req], word: &str| {
            write!(f, "(")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                write!(f, "{item}")?;
            }
            write!(f, ")")
        };
        match self {
            Req::Simple(dep) => write!(f, "{dep}"),
            Req::And(items) => join(f, items, "and"),
            Req::Or(items) => join(f, items, "or"),
            Req::With(items) => join(f, items, "with"),
            Req::Without(a, b) => write!(f, "({a} without {b})"),
            Req::If(a, b, c) | Req::Unless(a, b, c) => {
                let word = if matches!(self, Req::If(..)) {
                    "if"
                } else {
                    "unless"
                };
                write!(f, "({a} {word} {b}")?;
                if let Some(c) = c {
                    write!(f, " else {c}")?;
                }
                write!(f, ")")
            }
        }
    }
}

/// Splits a rich dependency into `(`, `)` and words. A name may hold balanced parentheses
/// (`kmod(x86)`, `libc.so.6()(64bit)`), as rpm's parser allows: a `(` inside a word opens
/// a nesting that the next `)` closes.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' if !word.is_empty() => {
                depth += 1;
                word.push(c);
            }
            ')' if depth > 0 => {
                depth -= 1;
                word.push(c);
            }
            '(' | ')' => {
                if !word.is_empty() {
                    tokens.push(std::mem::take(&mut word));
                }
                tokens.push(c.to_string());
            }
            c if c.is_whitespace() && depth == 0 => {
                if !word.is_empty() {
                    tokens.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    tokens
}

/// How deeply rich dependencies may nest. rpm's own specs stay within a handful of levels;
/// the bound keeps hostile metadata from exhausting the stack.
pub const MAX_NESTING: usize = 32;

const KEYWORDS: [&str; 7] = ["and", "or", "if", "else", "unless", "with", "without"];

/// `( operand (keyword operand)* )`, at `tokens[*at] == "("`.
fn parse_group(tokens: &[String], at: &mut usize, depth: usize) -> Result<Req, String> {
    if tokens.get(*at).map(String::as_str) != Some("(") {
        return Err("expected `(`".into());
    }
    *at += 1;
    let mut operands = vec![parse_operand(tokens, at, depth)?];
    let mut words: Vec<String> = Vec::new();
    loop {
        match tokens.get(*at).map(String::as_str) {
            Some(")") => {
                *at += 1;
                break;
            }
            Some(word) if KEYWORDS.contains(&word) => {
                words.push(word.to_string());
                *at += 1;
                operands.push(parse_operand(tokens, at, depth)?);
            }
            Some(other) => return Err(format!("expected an operator, found `{other}`")),
            None => return Err("missing `)`".into()),
        }
    }
    if words.is_empty() {
        return operands
            .pop()
            .ok_or_else(|| "empty parentheses".to_string());
    }
    let first = words[0].as_str();
    let same = words.iter().all(|w| w == first);
    match (first, words.len()) {
        ("and" | "or" | "with", _) if same => Ok(match first {
            "and" => Req::And(operands),
            "or" => Req::Or(operands),
            _ => Req::With(operands),
        }),
        ("without", 1) => {
            let b = operands.pop().map(Box::new);
            let a = operands.pop().map(Box::new);
            match (a, b) {
                (Some(a), Some(b)) => Ok(Req::Without(a, b)),
                _ => Err("`without` needs two operands".into()),
            }
        }
        ("if" | "unless", 1 | 2) if words.len() == 1 || words[1] == "else" => {
            let mut operands = operands.into_iter().map(Box::new);
            let (Some(a), Some(b)) = (operands.next(), operands.next()) else {
                return Err(format!("`{first}` needs two operands"));
            };
            let c = operands.next();
            Ok(if first == "if" {
                Req::If(a, b, c)
            } else {
                Req::Unless(a, b, c)
            })
        }
        _ => Err(format!(
            "the operators {} cannot be mixed without parentheses",
            words.join(", ")
        )),
    }
}

/// A nested group, or `name [OP evr]`.
fn parse_operand(tokens: &[String], at: &mut usize, depth: usize) -> Result<Req, String> {
    match tokens.get(*at).map(String::as_str) {
        Some("(") if depth >= MAX_NESTING => {
            Err(format!("nested more than {MAX_NESTING} levels deep"))
        }
        Some("(") => parse_group(tokens, at, depth + 1),
        Some(")") | None => Err("expected a dependency".into()),
        Some(word) if KEYWORDS.contains(&word) => {
            Err(format!("expected a dependency, found `{word}`"))
        }
        Some(name) => {
            *at += 1;
            if let Some(op) = tokens.get(*at).and_then(|t| Op::from_symbol(t)) {
                let evr = tokens
                    .get(*at + 1)
                    .ok_or_else(|| format!("`{name}`: a version after the comparison"))?;
                *at += 2;
                Ok(Req::Simple(Dep {
                    name: name.to_string(),
                    range: Some((op, Evr::parse(evr)?)),
                }))
            } else {
                Ok(Req::Simple(Dep::name(name)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(text: &str) -> Dep {
        Dep::parse(text).unwrap()
    }

    #[test]
    fn simple_dependencies_parse_and_ranges_overlap_as_rpm_does() {
        assert_eq!(dep("iptables >= 1.8").to_string(), "iptables >= 1.8");
        assert_eq!(dep("foo = 1:2.0-1").range.unwrap().1.epoch, 1);
        assert!(Dep::parse("foo ~ 1").is_err());
        assert!(Dep::parse("foo >=").is_err());
        let provide = dep("foo = 1.9-1");
        assert!(provide.satisfies(&dep("foo >= 1.8")));
        assert!(provide.satisfies(&dep("foo")));
        assert!(!provide.satisfies(&dep("foo >= 2")));
        assert!(!provide.satisfies(&dep("foo < 1.9")));
        assert!(provide.satisfies(&dep("foo <= 1.9")));
        assert!(provide.satisfies(&dep("foo = 1.9")));
        assert!(!provide.satisfies(&dep("bar")));
        assert!(dep("foo").satisfies(&dep("foo > 3")));
        assert!(dep("foo = 1:1.0").satisfies(&dep("foo > 2.0")));
        assert!(!dep("foo = 1.0~rc1").satisfies(&dep("foo >= 1.0")));
    }

    #[test]
    fn rich_dependencies_parse_with_nesting_and_chaining() {
        let req = Req::parse("(a or b >= 2 or (c and d))").unwrap();
        let Req::Or(items) = &req else {
            panic!("{req:?}")
        };
        assert_eq!(items.len(), 3);
        assert_eq!(req.to_string(), "(a or b >= 2 or (c and d))");
        assert!(matches!(
            Req::parse("(a if b else c)").unwrap(),
            Req::If(_, _, Some(_))
        ));
        assert!(matches!(
            Req::parse("(a unless b)").unwrap(),
            Req::Unless(_, _, None)
        ));
        assert!(matches!(
            Req::parse("(a with b with c)").unwrap(),
            Req::With(v) if v.len() == 3
        ));
        assert!(matches!(
            Req::parse("(a without b)").unwrap(),
            Req::Without(..)
        ));
        assert_eq!(
            Req::parse("(kernel-modules if kernel)")
                .unwrap()
                .to_string(),
            "(kernel-modules if kernel)"
        );
        assert_eq!(Req::parse("((a))").unwrap(), Req::Simple(dep("a")));
        assert_eq!(
            Req::parse("(libc.so.6()(64bit) or kmod(x86) >= 2)")
                .unwrap()
                .to_string(),
            "(libc.so.6()(64bit) or kmod(x86) >= 2)"
        );
    }

    #[test]
    fn malformed_rich_dependencies_are_refused() {
        for bad in [
            "(a or b and c)",
            "(a or)",
            "(a or b",
            "(a if b if c)",
            "(a without b without c)",
            "(a b)",
            "(a) c",
            "()",
        ] {
            assert!(Req::parse(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod nesting_tests {
    use super::*;

    #[test]
    fn hostile_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
        let error = Req::parse(&deep).unwrap_err();
        assert!(error.contains("nested more than 32 levels"), "{error}");
        let fine = format!(
            "{}a or b{}",
            "(".repeat(MAX_NESTING),
            ")".repeat(MAX_NESTING)
        );
        assert!(Req::parse(&fine).is_ok());
    }
}
