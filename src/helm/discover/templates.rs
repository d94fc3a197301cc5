//! `image:` fields in a chart's template files, read line by line: a literal value is an
//! image, a value with `{{ }}` actions is evaluated by `crate::helm::template` where it can
//! be, and reported otherwise. Lines inside `{{/* */}}` comments or multi-line actions and
//! YAML comments are skipped; what `.` is at a line is tracked through the enclosing
//! `with`/`range`/`define` blocks.

use crate::helm::template::{self, Dot};
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// What one `image:` line gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// An image (normalised reference), at a 1-based line.
    Found { line: usize, reference: String },
    /// An `image:` value that is not evaluated, as written.
    Unevaluated { line: usize, value: String },
}

/// `image:` as a YAML key, alone on its line or as a list item (`- image:`), quoted or not.
static IMAGE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(\s*(?:-\s+)?)["']?image["']?\s*:(\s.*)?$"#).expect("a valid pattern")
});
/// A child line of a nested `image:` map: `repository: …`.
static CHILD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(\s*)["']?([A-Za-z]+)["']?\s*:\s*(.*)$"#).expect("a valid pattern")
});

/// How an action changes what `.` is until its `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Opens(Dot),
    Closes,
    None,
}

/// The `image:` lines of one template file, evaluated against `root`
/// (`crate::helm::template::root`).
pub(super) fn scan(text: &str, root: &Value) -> Vec<Outcome> {
    let mut spans = Vec::new();
    for action in template::actions(text) {
        match action {
            Ok(action) => spans.push((action.start, action.end, effect(&action))),
            // An action left open: everything after it is inside it.
            Err(_) => {
                let start = spans.last().map_or(0, |&(_, end, _)| end);
                let open = start + text[start..].find("{{").unwrap_or(0);
                spans.push((open, text.len(), Effect::None));
                break;
            }
        }
    }
    let lines: Vec<(usize, &str)> = text
        .split_inclusive('\n')
        .scan(0, |offset, line| {
            let start = *offset;
            *offset += line.len();
            Some((start, line.trim_end_matches(['\n', '\r'])))
        })
        .collect();
    let mut stack: Vec<Dot> = Vec::new();
    let mut next_span = 0;
    let mut out = Vec::new();
    for (index, &(start, line)) in lines.iter().enumerate() {
        let Some(key) = IMAGE_KEY.captures(line) else {
            continue;
        };
        let indent = key.get(1).map_or(0, |m| m.len());
        let at = start + indent;
        while let Some(&(_, _, effect)) = spans.get(next_span).filter(|s| s.1 <= at) {
            match effect {
                Effect::Opens(dot) => stack.push(dot),
                Effect::Closes => {
                    stack.pop();
                }
                Effect::None => {}
            }
            next_span += 1;
        }
        if spans.get(next_span).is_some_and(|&(s, _, _)| s <= at) {
            continue;
        }
        let dot = if stack.contains(&Dot::Unknown) {
            Dot::Unknown
        } else if stack.contains(&Dot::Rebound) {
            Dot::Rebound
        } else {
            Dot::Root
        };
        let value = without_comment(key.get(2).map_or("", |m| m.as_str())).trim();
        let line = index + 1;
        if value.is_empty() {
            if let Some(reference) = nested(&lines[index + 1..], indent, root, dot) {
                out.push(Outcome::Found { line, reference });
            }
            continue;
        }
        out.push(match image(value, root, dot) {
            Some(reference) => Outcome::Found { line, reference },
            None => Outcome::Unevaluated {
                line,
                value: value.to_string(),
            },
        });
    }
    out
}

fn effect(action: &template::Action) -> Effect {
    if action.comment {
        return Effect::None;
    }
    match action.body.split_whitespace().next().unwrap_or("") {
        "if" => Effect::Opens(Dot::Root),
        "with" | "range" => Effect::Opens(Dot::Rebound),
        "define" | "block" => Effect::Opens(Dot::Unknown),
        "end" => Effect::Closes,
        _ => Effect::None,
    }
}

/// A YAML scalar's value without a trailing `# comment` (a `#` after whitespace, outside
/// quotes and actions).
fn without_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    let mut in_action = false;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_action {
            if bytes[i..].starts_with(b"}}") {
                in_action = false;
                i += 1;
            }
        } else if let Some(q) = quote {
            if b == q {
                quote = None;
            }
        } else if bytes[i..].starts_with(b"{{") {
            in_action = true;
            i += 1;
        } else if matches!(b, b'"' | b'\'') && value[..i].trim().is_empty() {
            quote = Some(b);
        } else if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &value[..i];
        }
        i += 1;
    }
    value
}

/// `text` without one pair of surrounding YAML quotes.
fn unquoted(text: &str) -> &str {
    let text = text.trim();
    for q in ['"', '\''] {
        if text.len() >= 2 && text.starts_with(q) && text.ends_with(q) {
            return &text[1..text.len() - 1];
        }
    }
    text
}

/// A scalar's text: literal, or rendered when it has actions (`None` if not evaluated).
fn scalar(value: &str, root: &Value, dot: Dot) -> Option<String> {
    let value = unquoted(value);
    if !value.contains("{{") {
        return Some(value.to_string());
    }
    let rendered = template::render(value, root, dot).ok()?;
    Some(unquoted(&rendered).to_string())
}

/// The image an `image:` value names, normalised.
fn image(value: &str, root: &Value, dot: Dot) -> Option<String> {
    let text = scalar(value, root, dot)?;
    crate::reference::parse(&text).ok().map(|r| r.whole())
}

/// How many lines after an `image:` key are read as its map's fields.
const MAX_IMAGE_FIELDS: usize = 16;

/// An `image:` followed by an indented map: an image when its `repository` (with `registry`,
/// `tag`, `digest`) is literal or evaluated and names a tag or digest; otherwise nothing.
fn nested(following: &[(usize, &str)], indent: usize, root: &Value, dot: Dot) -> Option<String> {
    let (mut registry, mut repository, mut tag, mut digest) = (None, None, None, None);
    // An image map has a handful of fields: looking further than this would make a template
    // of ever deeper `image:` lines cost cubic time.
    let children = following
        .iter()
        .filter(|(_, l)| !l.trim().is_empty())
        .take(MAX_IMAGE_FIELDS);
    for (_, line) in children {
        if line.len() - line.trim_start().len() <= indent {
            break;
        }
        let child = CHILD.captures(line)?;
        let field = match &child[2] {
            "registry" => &mut registry,
            "repository" => &mut repository,
            "tag" => &mut tag,
            "digest" => &mut digest,
            _ => continue,
        };
        *field = Some(scalar(without_comment(&child[3]), root, dot)?);
    }
    let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
    let repository = non_empty(repository)?;
    let (tag, digest) = (non_empty(tag), non_empty(digest));
    if tag.is_none() && digest.is_none() {
        return None;
    }
    let mut text = match non_empty(registry) {
        Some(registry) => format!("{registry}/{repository}"),
        None => repository,
    };
    if let Some(tag) = tag {
        text = format!("{text}:{tag}");
    }
    if let Some(digest) = digest {
        text = format!("{text}@{digest}");
    }
    crate::reference::parse(&text).ok().map(|r| r.whole())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn root() -> Value {
        template::root(
            &json!({"image": {"repository": "org/app", "tag": ""}, "hook": {"image": "bitnami/kubectl:1.30"}}),
            &json!({"name": "app", "version": "1.0.0", "appVersion": "2.1"}),
        )
    }

    fn found(line: usize, reference: &str) -> Outcome {
        Outcome::Found {
            line,
            reference: reference.into(),
        }
    }

    fn unevaluated(line: usize, value: &str) -> Outcome {
        Outcome::Unevaluated {
            line,
            value: value.into(),
        }
    }

    #[test]
    fn literal_and_evaluated_values() {
        let text = r#"spec:
  containers:
    - name: a
      image: nginx:1.27
    - image: "quay.io/org/b:v2"  # pinned
      name: b
    - image: {{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
    - image: "{{ .Values.hook.image }}"
    - image: {{ .Values.hook.image | quote }}
    - image: '{{ printf "%s:%s" "org/c" "3" }}'
    - image: org/d:4 # café {{ ñ }} ü
"#;
        assert_eq!(
            scan(text, &root()),
            [
                found(4, "docker.io/library/nginx:1.27"),
                found(5, "quay.io/org/b:v2"),
                found(7, "docker.io/org/app:2.1"),
                found(8, "docker.io/bitnami/kubectl:1.30"),
                found(9, "docker.io/bitnami/kubectl:1.30"),
                found(10, "docker.io/org/c:3"),
                found(11, "docker.io/org/d:4"),
            ]
        );
    }

    #[test]
    fn what_is_reported() {
        let text = r#"containers:
  - image: {{ include "app.image" . }}
  - image: {{ template "app.image" . }} # helper
  - image: {{ .Values.missing.repository }}:{{ .Values.missing.tag }}
  - image: {{ include "app.image" (dict
        "x" .) }}
  - image: $IMAGE
  - image: ñ{{ "é" }}ü # ö
"#;
        assert_eq!(
            scan(text, &root()),
            [
                unevaluated(2, r#"{{ include "app.image" . }}"#),
                unevaluated(3, r#"{{ template "app.image" . }}"#),
                unevaluated(
                    4,
                    "{{ .Values.missing.repository }}:{{ .Values.missing.tag }}"
                ),
                unevaluated(5, r#"{{ include "app.image" (dict"#),
                unevaluated(7, "$IMAGE"),
                unevaluated(8, r#"ñ{{ "é" }}ü"#),
            ]
        );
    }

    #[test]
    fn comments_and_actions_are_skipped() {
        let text = r#"{{/*
  image: in-a-comment:1
*/}}
# image: yaml-comment:1
{{- $x := dict
   "image: inside-an-action:1" 1 }}
data:
  image: real:1
"#;
        assert_eq!(scan(text, &root()), [found(8, "docker.io/library/real:1")]);
    }

    #[test]
    fn what_dot_is_follows_the_blocks() {
        let text = r#"{{- with .Values.image }}
image: {{ .repository }}
image: {{ $.Values.hook.image }}
{{- end }}
{{- if .Values.image }}
image: {{ .Values.hook.image }}
{{- end }}
{{- define "x" }}
image: {{ $.Values.hook.image }}
image: literal:1
{{- end }}
image: {{ .Values.hook.image }}
"#;
        assert_eq!(
            scan(text, &root()),
            [
                unevaluated(2, "{{ .repository }}"),
                found(3, "docker.io/bitnami/kubectl:1.30"),
                found(6, "docker.io/bitnami/kubectl:1.30"),
                unevaluated(9, "{{ $.Values.hook.image }}"),
                found(10, "docker.io/library/literal:1"),
                found(12, "docker.io/bitnami/kubectl:1.30"),
            ]
        );
    }

    #[test]
    fn nested_image_maps() {
        let text = r#"spec:
  image:
    registry: ghcr.io
    repository: org/operand
    tag: "{{ .Chart.AppVersion }}"
  other:
    image:
      {{- toYaml .Values.image | nindent 6 }}
    image:
      repository: org/untagged
  last:
    image:
      repository: {{ include "x" . }}
      tag: 1
"#;
        assert_eq!(scan(text, &root()), [found(2, "ghcr.io/org/operand:2.1")]);
    }
}
