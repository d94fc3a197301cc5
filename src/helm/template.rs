//! The small part of Go templates (Helm's `text/template` with Sprig functions) that names
//! images: what discovery needs to read an `image:` line such as
//! `{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}`.
//!
//! Evaluated: text around any number of `{{ }}` actions, with `{{-`/`-}}` trimming and
//! `{{/* */}}` comments; field paths from the root (`.Values.a.b`, `$.Values.a.b`,
//! `.Chart.AppVersion`, `.Release.Name`); string literals (`"…"`, `` `…` ``), numbers,
//! `true`/`false`/`nil`; pipelines (`a | f b`) and parenthesised pipelines as arguments; the
//! functions `default`, `quote`, `squote`, `trim`, `trimPrefix`, `trimSuffix`, `lower`,
//! `upper`, `toString`, `required`, `print` and `printf` (verbs `%s`, `%v`, `%d`, `%%`).
//! A missing value is nil and prints as nothing, as Helm renders it.
//!
//! Not evaluated ([`Unevaluable`]): any other function (`include`, `tpl`, `toYaml`, …),
//! control actions (`if`, `range`, `with`, `define`, `template`, `block`, `end`, …),
//! variables other than `$` (`$x`, `$x := …`), field paths where `.` is not the chart root
//! (inside `with`/`range`/`define`, which the caller says through [`Dot`]), and printing a
//! map or a list. This is not a Go-template engine; see `crate::helm::discover` for where
//! it is used.

use functions::{call, printed};
use serde_json::{Map, Value};

/// What `.` is where the text is rendered (the caller tracks the enclosing blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dot {
    /// `.` and `$` are the chart root (top level of a template file, or inside `if`).
    Root,
    /// Inside `with` or `range`: `.` is something else, `$` is still the root.
    Rebound,
    /// Inside `define` or `block`: neither `.` nor `$` is known.
    Unknown,
}

/// Why a text was not evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unevaluable {
    #[error("function `{0}` is not evaluated")]
    Function(String),
    #[error("control action `{0}` is not evaluated")]
    Control(String),
    #[error("variable `{0}` is not evaluated")]
    Variable(String),
    #[error("`.` is not the chart root here")]
    Dot,
    #[error("a map or list is printed")]
    NotText,
    #[error("required value missing: {0}")]
    Required(String),
    #[error("malformed action: {0}")]
    Syntax(String),
}

/// A `{{ }}` action found in a text: its byte span (delimiters included), its body (trim
/// markers removed), and whether it trims the whitespace before or after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action<'a> {
    pub start: usize,
    pub end: usize,
    pub body: &'a str,
    pub trim_left: bool,
    pub trim_right: bool,
    pub comment: bool,
}

/// Deepest nesting of parentheses read (input is a chart's, so bounded).
const MAX_DEPTH: usize = 32;

/// The root a template sees: `{Values, Chart, Release}`. `Chart` is `metadata` (Chart.yaml
/// as JSON) with Helm's field names (`name` → `Name`, `appVersion` → `AppVersion`,
/// `apiVersion` → `APIVersion`); `Release` is `{Name: "release", Namespace: "default"}`.
pub fn root(values: &Value, metadata: &Value) -> Value {
    let mut chart = Map::new();
    if let Some(fields) = metadata.as_object() {
        for (key, value) in fields {
            let name = match key.as_str() {
                "apiVersion" => "APIVersion".to_string(),
                _ => {
                    let mut chars = key.chars();
                    chars.next().map_or_else(String::new, |first| {
                        first.to_uppercase().chain(chars).collect::<String>()
                    })
                }
            };
            chart.insert(name, value.clone());
        }
    }
    serde_json::json!({
        "Values": values,
        "Chart": chart,
        "Release": {"Name": "release", "Namespace": "default"},
    })
}

/// Renders `text` against `root` (see [`root`]) where `.` is `dot`.
///
/// Errors: [`Unevaluable`] for anything outside the evaluated subset (module doc), and
/// [`Unevaluable::Syntax`] for an action left open.
pub fn render(text: &str, root: &Value, dot: Dot) -> Result<String, Unevaluable> {
    let mut out = String::new();
    let mut at = 0;
    let mut trim_next = false;
    for action in actions(text) {
        let action = action?;
        let mut literal = &text[at..action.start];
        if trim_next {
            literal = literal.trim_start();
        }
        if action.trim_left {
            literal = literal.trim_end();
        }
        out.push_str(literal);
        if !action.comment {
            let value = Evaluator { root, dot }.pipeline_text(action.body)?;
            out.push_str(&printed(&value)?);
        }
        trim_next = action.trim_right;
        at = action.end;
    }
    let rest = &text[at..];
    out.push_str(if trim_next { rest.trim_start() } else { rest });
    Ok(out)
}

/// The `{{ }}` actions of `text` in order (string literals and comments respected). An
/// action left open ends the iteration with [`Unevaluable::Syntax`].
pub fn actions(text: &str) -> impl Iterator<Item = Result<Action<'_>, Unevaluable>> {
    let mut at = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let start = at + text[at..].find("{{")?;
        let found = action_at(text, start);
        match &found {
            Ok(action) => at = action.end,
            Err(_) => done = true,
        }
        Some(found)
    })
}

fn action_at(text: &str, start: usize) -> Result<Action<'_>, Unevaluable> {
    let unclosed = || Unevaluable::Syntax(format!("`{}` is not closed", &text[start..]));
    let mut inner = start + 2;
    let trim_left = text[inner..].starts_with('-')
        && text[inner + 1..].starts_with(|c: char| c.is_ascii_whitespace());
    if trim_left {
        inner += 1;
    }
    let body_start = inner;
    let after_space =
        body_start + (text[body_start..].len() - text[body_start..].trim_start().len());
    let comment = text[after_space..].starts_with("/*");
    let bytes = text.as_bytes();
    let mut i = if comment {
        after_space + text[after_space..].find("*/").ok_or_else(unclosed)? + 2
    } else {
        body_start
    };
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' && q != b'`' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None if !comment && matches!(b, b'"' | b'`' | b'\'') => quote = Some(b),
            None if bytes[i..].starts_with(b"}}") => {
                let before = &text[body_start..i];
                let trim_right =
                    before.ends_with(" -") || before.ends_with("\t-") || before.ends_with("\n-");
                let body = if trim_right {
                    &before[..before.len() - 1]
                } else {
                    before
                };
                return Ok(Action {
                    start,
                    end: i + 2,
                    body: body.trim(),
                    trim_left,
                    trim_right,
                    comment,
                });
            }
            None => {}
        }
        i += 1;
    }
    Err(unclosed())
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(Value),
    /// A field path from `.` (`from_root` false) or from `$` (true); empty: `.` or `$` itself.
    Field {
        from_root: bool,
        path: Vec<String>,
    },
    Function(String),
    Open,
    Close,
    Pipe,
}

fn tokens(body: &str) -> Result<Vec<Token>, Unevaluable> {
    let syntax = |what: &str| Unevaluable::Syntax(format!("{what} in `{body}`"));
    let chars: Vec<char> = body.chars().collect();
    let word_end = |from: usize| {
        (from..chars.len())
            .find(|&j| !(chars[j].is_alphanumeric() || chars[j] == '_'))
            .unwrap_or(chars.len())
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | '|' => {
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Pipe,
                });
                i += 1;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(syntax("an unterminated string")),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            s.push(match chars.get(i) {
                                Some('n') => '\n',
                                Some('t') => '\t',
                                Some(&e @ ('"' | '\\')) => e,
                                _ => return Err(syntax("an escape sequence")),
                            });
                        }
                        Some(&other) => s.push(other),
                    }
                    i += 1;
                }
                out.push(Token::Literal(Value::String(s)));
                i += 1;
            }
            '`' => {
                let end = (i + 1..chars.len())
                    .find(|&j| chars[j] == '`')
                    .ok_or_else(|| syntax("an unterminated raw string"))?;
                out.push(Token::Literal(Value::String(
                    chars[i + 1..end].iter().collect(),
                )));
                i = end + 1;
            }
            '.' | '$' => {
                let from_root = c == '$';
                let mut j = if from_root { i + 1 } else { i };
                if from_root
                    && chars
                        .get(j)
                        .is_some_and(|n| n.is_alphanumeric() || *n == '_')
                {
                    let end = word_end(j);
                    let name: String = chars[i..end].iter().collect();
                    return Err(Unevaluable::Variable(name));
                }
                let mut path = Vec::new();
                while chars.get(j) == Some(&'.') {
                    let end = word_end(j + 1);
                    if end == j + 1 {
                        // `.` alone is the dot itself; a path may not end in `.`.
                        if j == i {
                            j += 1;
                            break;
                        }
                        return Err(syntax("a field path"));
                    }
                    path.push(chars[j + 1..end].iter().collect());
                    j = end;
                }
                out.push(Token::Field { from_root, path });
                i = j;
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let end = (i + 1..chars.len())
                    .find(|&j| !(chars[j].is_ascii_alphanumeric() || chars[j] == '.'))
                    .unwrap_or(chars.len());
                let text: String = chars[i..end].iter().collect();
                let number: serde_json::Number = text.parse().map_err(|_| syntax("a number"))?;
                out.push(Token::Literal(Value::Number(number)));
                i = end;
            }
            c if c.is_alphabetic() || c == '_' => {
                let end = word_end(i);
                let word: String = chars[i..end].iter().collect();
                out.push(match word.as_str() {
                    "true" => Token::Literal(Value::Bool(true)),
                    "false" => Token::Literal(Value::Bool(false)),
                    "nil" => Token::Literal(Value::Null),
                    "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block"
                    | "break" | "continue" => return Err(Unevaluable::Control(word)),
                    _ => Token::Function(word),
                });
                i = end;
            }
            ':' | '=' | ',' => return Err(Unevaluable::Variable(body.to_string())),
            other => return Err(syntax(&format!("`{other}`"))),
        }
    }
    Ok(out)
}

struct Evaluator<'r> {
    root: &'r Value,
    dot: Dot,
}

impl Evaluator<'_> {
    fn pipeline_text(&self, body: &str) -> Result<Value, Unevaluable> {
        let tokens = tokens(body)?;
        let mut at = 0;
        let value = self.pipeline(&tokens, &mut at, 0)?;
        match tokens.get(at) {
            None => Ok(value),
            Some(_) => Err(Unevaluable::Syntax(format!("unexpected `)` in `{body}`"))),
        }
    }

    /// `command (| command)*` up to a `)` or the end.
    fn pipeline(
        &self,
        tokens: &[Token],
        at: &mut usize,
        depth: usize,
    ) -> Result<Value, Unevaluable> {
        if depth > MAX_DEPTH {
            return Err(Unevaluable::Syntax("too deeply nested".into()));
        }
        let mut piped: Option<Value> = None;
        loop {
            let mut words = Vec::new();
            while let Some(token) = tokens.get(*at) {
                match token {
                    Token::Pipe | Token::Close => break,
                    Token::Open => {
                        *at += 1;
                        let inner = self.pipeline(tokens, at, depth + 1)?;
                        if tokens.get(*at) != Some(&Token::Close) {
                            return Err(Unevaluable::Syntax("unclosed `(`".into()));
                        }
                        words.push(Token::Literal(inner));
                    }
                    other => words.push(other.clone()),
                }
                *at += 1;
            }
            piped = Some(self.command(words, piped)?);
            if tokens.get(*at) != Some(&Token::Pipe) {
                break;
            }
            *at += 1;
        }
        piped.ok_or_else(|| Unevaluable::Syntax("an empty pipeline".into()))
    }

    fn command(&self, words: Vec<Token>, piped: Option<Value>) -> Result<Value, Unevaluable> {
        let mut words = words.into_iter();
        match words.next() {
            Some(Token::Function(name)) => {
                let mut args = words
                    .map(|w| self.operand(w))
                    .collect::<Result<Vec<_>, _>>()?;
                args.extend(piped);
                call(&name, args)
            }
            Some(word) if words.len() == 0 && piped.is_none() => self.operand(word),
            _ => Err(Unevaluable::Syntax(
                "arguments to something not a function".into(),
            )),
        }
    }

    fn operand(&self, token: Token) -> Result<Value, Unevaluable> {
        match token {
            Token::Literal(value) => Ok(value),
            Token::Field { from_root, path } => {
                let known = match self.dot {
                    Dot::Root => true,
                    Dot::Rebound => from_root,
                    Dot::Unknown => false,
                };
                if !known {
                    return Err(Unevaluable::Dot);
                }
                let mut value = self.root;
                for name in &path {
                    match value.get(name) {
                        Some(next) => value = next,
                        None => return Ok(Value::Null),
                    }
                }
                Ok(value.clone())
            }
            Token::Function(name) => call(&name, Vec::new()),
            Token::Open | Token::Close | Token::Pipe => {
                Err(Unevaluable::Syntax("a misplaced `(`, `)` or `|`".into()))
            }
        }
    }
}

mod functions;

#[cfg(test)]
mod tests;
