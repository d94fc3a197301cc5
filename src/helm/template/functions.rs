//! The functions `crate::helm::template` evaluates, with Go's and Sprig's meanings: Go's
//! `print` and `printf` (verbs `%s`, `%v`, `%d`, `%%` only), Sprig's `default`, `required`,
//! `quote`, `squote`, `trim`, `trimPrefix`, `trimSuffix`, `lower`, `upper`, `toString`.

use super::Unevaluable;
use serde_json::Value;

/// Text as a Go template prints a value (`nil` as nothing, as Helm renders it).
pub(super) fn printed(value: &Value) -> Result<String, Unevaluable> {
    match value {
        Value::Null => Ok(String::new()),
        other => text_of(other),
    }
}

/// Sprig's `toString` of a scalar; maps and lists are not evaluated.
fn text_of(value: &Value) -> Result<String, Unevaluable> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => f.to_string(),
            _ => n.to_string(),
        }),
        Value::Array(_) | Value::Object(_) => Err(Unevaluable::NotText),
    }
}

/// Sprig's emptiness (`default`, `required`): nil, `""`, `false`, `0`, an empty map or list.
fn empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// The evaluated functions (module doc), with Sprig's and Go's meanings.
pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, Unevaluable> {
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(Unevaluable::Syntax(format!(
                "`{name}` takes {n} argument(s), given {}",
                args.len()
            )))
        }
    };
    let text = |s: String| Ok(Value::String(s));
    match name {
        "default" => {
            let mut args = args.into_iter();
            let fallback = args
                .next()
                .ok_or_else(|| Unevaluable::Syntax("`default` needs a value".into()))?;
            Ok(match args.next() {
                Some(given) if !empty(&given) => given,
                _ => fallback,
            })
        }
        "required" => {
            arity(2)?;
            let message = text_of(&args[0])?;
            match &args[1] {
                Value::Null => Err(Unevaluable::Required(message)),
                Value::String(s) if s.is_empty() => Err(Unevaluable::Required(message)),
                given => Ok(given.clone()),
            }
        }
        "quote" | "squote" => {
            let quoted = args
                .iter()
                .filter(|a| !a.is_null())
                .map(|a| {
                    let s = text_of(a)?;
                    Ok(if name == "quote" {
                        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
                    } else {
                        format!("'{s}'")
                    })
                })
                .collect::<Result<Vec<_>, Unevaluable>>()?;
            text(quoted.join(" "))
        }
        "trim" | "lower" | "upper" | "toString" => {
            arity(1)?;
            let s = text_of(&args[0])?;
            text(match name {
                "trim" => s.trim().to_string(),
                "lower" => s.to_lowercase(),
                "upper" => s.to_uppercase(),
                _ => s,
            })
        }
        "trimPrefix" | "trimSuffix" => {
            arity(2)?;
            let (affix, s) = (text_of(&args[0])?, text_of(&args[1])?);
            let trimmed = if name == "trimPrefix" {
                s.strip_prefix(affix.as_str())
            } else {
                s.strip_suffix(affix.as_str())
            };
            text(trimmed.unwrap_or(&s).to_string())
        }
        "print" => {
            let mut out = String::new();
            for (i, arg) in args.iter().enumerate() {
                if i > 0 && !arg.is_string() && !args[i - 1].is_string() {
                    out.push(' ');
                }
                out.push_str(&text_of(arg)?);
            }
            text(out)
        }
        "printf" => {
            let mut args = args.into_iter();
            let format = match args.next() {
                Some(Value::String(f)) => f,
                _ => return Err(Unevaluable::Syntax("`printf` needs a format string".into())),
            };
            printf(&format, args.collect())
        }
        other => Err(Unevaluable::Function(other.to_string())),
    }
}

/// Go's `fmt.Sprintf` for `%s`, `%v`, `%d` and `%%`; anything else (flags, widths, other
/// verbs, a nil or missing argument, arguments left over) is not evaluated.
fn printf(format: &str, args: Vec<Value>) -> Result<Value, Unevaluable> {
    let unsupported = || Unevaluable::Function(format!("printf {format:?}"));
    let mut out = String::new();
    let mut args = args.into_iter();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s' | 'v') => match args.next() {
                Some(Value::Null) | None => return Err(unsupported()),
                Some(arg) => out.push_str(&text_of(&arg)?),
            },
            Some('d') => match args.next() {
                Some(arg @ Value::Number(_))
                    if arg.as_i64().is_some() || arg.as_u64().is_some() =>
                {
                    out.push_str(&text_of(&arg)?)
                }
                Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                    out.push_str(&text_of(&Value::Number(n))?)
                }
                _ => return Err(unsupported()),
            },
            _ => return Err(unsupported()),
        }
    }
    if args.next().is_some() {
        return Err(unsupported());
    }
    Ok(Value::String(out))
}
