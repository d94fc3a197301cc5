//! A chart's `Chart.yaml` as Helm's `Metadata` type reads it: the fields Helm knows, each in
//! the JSON type Helm expects. Helm reads a repository's `index.yaml` strictly (an unknown key
//! fails `helm repo add` for the whole repository) and a chart's OCI config into typed fields
//! (a number where a string belongs fails `helm pull`), while it reads `Chart.yaml` itself
//! leniently; so what outpost writes in both places goes through [`helm_metadata`].

use serde_json::{Map, Value};

/// Keys of Helm's `Metadata` whose values are strings.
const STRINGS: &[&str] = &[
    "name",
    "home",
    "version",
    "description",
    "icon",
    "apiVersion",
    "condition",
    "tags",
    "appVersion",
    "kubeVersion",
    "type",
];
/// Keys of Helm's `Metadata` whose values are lists of strings.
const STRING_LISTS: &[&str] = &["sources", "keywords"];

/// `metadata` (Chart.yaml as JSON) reduced to Helm's `Metadata` fields, scalars written as
/// the strings Helm expects (`version: 1.10` → `"1.10"` is the caller's to keep: numbers
/// are written as JSON writes them), unknown keys and values of the wrong shape left out.
pub fn helm_metadata(metadata: &Value) -> Value {
    let Value::Object(fields) = metadata else {
        return Value::Object(Map::new());
    };
    let mut out = Map::new();
    for (key, value) in fields {
        let kept = match key.as_str() {
            k if STRINGS.contains(&k) => string(value),
            k if STRING_LISTS.contains(&k) => string_list(value),
            "deprecated" => value.as_bool().map(Value::Bool),
            "annotations" => value.as_object().map(|map| {
                Value::Object(
                    map.iter()
                        .filter_map(|(k, v)| string(v).map(|v| (k.clone(), v)))
                        .collect(),
                )
            }),
            "maintainers" => list_of(value, &["name", "email", "url"], &[]),
            "dependencies" => list_of(
                value,
                &["name", "version", "repository", "condition", "alias"],
                &["tags", "enabled", "import-values"],
            ),
            _ => None,
        };
        if let Some(kept) = kept {
            out.insert(key.clone(), kept);
        }
    }
    Value::Object(out)
}

/// A scalar as a string; `None` for null, lists and maps.
fn string(value: &Value) -> Option<Value> {
    match value {
        Value::String(_) => Some(value.clone()),
        Value::Number(n) => Some(Value::String(n.to_string())),
        Value::Bool(b) => Some(Value::String(b.to_string())),
        _ => None,
    }
}

fn string_list(value: &Value) -> Option<Value> {
    value
        .as_array()
        .map(|items| Value::Array(items.iter().filter_map(string).collect()))
}

/// A list of objects keeping `strings` (as strings) and `others` (`tags` as strings,
/// `enabled` as a bool, `import-values` as they are).
fn list_of(value: &Value, strings: &[&str], others: &[&str]) -> Option<Value> {
    let items = value.as_array()?;
    let kept = items
        .iter()
        .filter_map(Value::as_object)
        .map(|item| {
            let mut out = Map::new();
            for (key, value) in item {
                let kept = match key.as_str() {
                    k if strings.contains(&k) => string(value),
                    "tags" if others.contains(&"tags") => string_list(value),
                    "enabled" if others.contains(&"enabled") => value.as_bool().map(Value::Bool),
                    "import-values" if others.contains(&"import-values") => {
                        value.is_array().then(|| value.clone())
                    }
                    _ => None,
                };
                if let Some(kept) = kept {
                    out.insert(key.clone(), kept);
                }
            }
            Value::Object(out)
        })
        .collect();
    Some(Value::Array(kept))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_helms_fields_in_helms_types() {
        let chart = json!({
            "apiVersion": "v2", "name": "web", "version": "1.2.7", "appVersion": 1.0,
            "extra": "unknown to Helm", "keywords": ["a", 2],
            "maintainers": [{"name": "x", "email": "x@example.test", "github": "x"}],
            "dependencies": [{"name": "cache", "version": 0.1, "repository": "https://c.test",
                              "enabled": true, "tags": ["t"], "weird": 1}],
            "annotations": {"artifacthub.io/images": "- image: x\n", "n": 3},
            "deprecated": false
        });
        assert_eq!(
            helm_metadata(&chart),
            json!({
                "apiVersion": "v2", "name": "web", "version": "1.2.7", "appVersion": "1.0",
                "keywords": ["a", "2"],
                "maintainers": [{"name": "x", "email": "x@example.test"}],
                "dependencies": [{"name": "cache", "version": "0.1", "repository": "https://c.test",
                                  "enabled": true, "tags": ["t"]}],
                "annotations": {"artifacthub.io/images": "- image: x\n", "n": "3"},
                "deprecated": false
            })
        );
    }
}
