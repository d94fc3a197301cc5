//! The images a chart deploys, each with why it is there, from (in this order, the parent
//! chart before its subcharts): the `artifacthub.io/images` annotation; image blocks in the
//! coalesced values (`values.yaml` under the user's values; [`values`]); and the `image:`
//! fields of its templates, literal or evaluated by `crate::helm::template` ([`templates`]).
//! Subcharts are read recursively with Helm's scoping of values (the parent's values under
//! the subchart's scope key over the subchart's `values.yaml`, `global` shared down) and
//! skipped when their dependency's `condition` is false. Template `image:` values that are
//! not evaluated are reported, not guessed.
//!
//! Why strings: `chart NAME VER: annotation artifacthub.io/images`,
//! `chart NAME VER: values controller.image`, `… values image (tag from appVersion)`,
//! `chart NAME VER: templates/job.yaml`, and in a subchart `chart NAME VER: subchart redis:
//! values image`. Unevaluated entries: `chart NAME VER: templates/x.yaml:LINE: VALUE`.

mod templates;
mod values;

use super::{Chart, Dependency, Subchart};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};

/// One image found, as written after registry/tag assembly (`docker.io/bitnami/redis:7.2`
/// or `registry.k8s.io/ingress-nginx/controller:v1.11.3@sha256:…`, the normalised whole
/// reference), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub reference: String,
    pub why: String,
}

/// What discovery found in a chart: images deduplicated by reference (the first why wins;
/// annotation, values, templates; parent before subcharts), and the template `image:`
/// values it could not evaluate (`chart NAME VER: templates/x.yaml:LINE: VALUE`,
/// deduplicated, sorted by chart and file, then by line number).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub images: Vec<Found>,
    pub unevaluated: Vec<String>,
}

/// The images `chart` deploys with `overrides` (the user's values, already merged from
/// valuesFiles and values) applied over its `values.yaml`. `label` is how whys begin:
/// `chart ingress-nginx 4.11.3`. Never fails: what cannot be read is left out or reported
/// in [`Discovery::unevaluated`].
pub fn discover(chart: &Chart, label: &str, overrides: &Value) -> Discovery {
    let mut values = chart.values.clone();
    merge_values(&mut values, overrides);
    let mut collected = Collected::default();
    collect(chart, &values, label, &mut collected);
    Discovery {
        images: collected.images,
        unevaluated: collected
            .unevaluated
            .into_iter()
            .map(|(place, line, value)| format!("{place}:{line}: {value}"))
            .collect(),
    }
}

/// Helm's coalescing of values (`helm install -f`): `over` wins; maps merge deeply; a
/// `null` in `over` deletes the key from `base`. A `null` `over` as a whole changes nothing.
pub fn merge_values(base: &mut Value, over: &Value) {
    match over {
        Value::Null => {}
        Value::Object(over) => {
            if !base.is_object() {
                *base = Value::Object(Map::new());
            }
            if let Value::Object(base) = base {
                for (key, value) in over {
                    match value {
                        Value::Null => {
                            base.shift_remove(key);
                        }
                        Value::Object(_) => {
                            let slot = base.entry(key.clone()).or_insert(Value::Null);
                            merge_values(slot, value);
                        }
                        other => {
                            base.insert(key.clone(), other.clone());
                        }
                    }
                }
            }
        }
        other => *base = other.clone(),
    }
}

#[derive(Default)]
struct Collected {
    images: Vec<Found>,
    seen: HashSet<String>,
    /// (why prefix and template path, line, value): sorted by file, then line number.
    unevaluated: BTreeSet<(String, usize, String)>,
}

impl Collected {
    fn add(&mut self, reference: String, why: String) {
        if self.seen.insert(reference.clone()) {
            self.images.push(Found { reference, why });
        }
    }
}

/// `chart`'s images with its coalesced `values`, whys beginning with `prefix`, then its
/// enabled subcharts'.
fn collect(chart: &Chart, values: &Value, prefix: &str, out: &mut Collected) {
    for image in annotated(&chart.metadata) {
        out.add(image, format!("{prefix}: annotation artifacthub.io/images"));
    }
    let active: Vec<&Subchart> = chart
        .subcharts
        .iter()
        .filter(|s| enabled(chart, s, values))
        .collect();
    // Values under a subchart's scope are the subchart's (read with it, or not at all when
    // it is disabled); so are those of a dependency disabled and not attached.
    let scopes: Vec<&str> = chart
        .subcharts
        .iter()
        .map(|s| s.scope.as_str())
        .chain(
            chart
                .dependencies
                .iter()
                .filter(|d| condition(d, values) == Some(false))
                .map(|d| d.alias.as_deref().unwrap_or(&d.name)),
        )
        .collect();
    for image in values::images(values, chart.app_version.as_deref(), &scopes) {
        let note = if image.tag_from_app_version {
            " (tag from appVersion)"
        } else {
            ""
        };
        out.add(
            image.reference,
            format!("{prefix}: values {}{note}", image.path),
        );
    }
    let root = super::template::root(values, &chart.metadata);
    for (path, text) in &chart.templates {
        if path.ends_with("NOTES.txt") {
            continue;
        }
        for outcome in templates::scan(text, &root) {
            match outcome {
                templates::Outcome::Found { reference, .. } => {
                    out.add(reference, format!("{prefix}: {path}"));
                }
                templates::Outcome::Unevaluated { line, value } => {
                    out.unevaluated
                        .insert((format!("{prefix}: {path}"), line, value));
                }
            }
        }
    }
    for subchart in active {
        let scoped = subchart_values(subchart, values);
        let prefix = format!("{prefix}: subchart {}", subchart.scope);
        collect(&subchart.chart, &scoped, &prefix, out);
    }
}

/// The images of the `artifacthub.io/images` annotation (a YAML list of `{name, image,
/// whitelisted}`), those that parse as references, normalised.
fn annotated(metadata: &Value) -> Vec<String> {
    let Some(text) = metadata
        .get("annotations")
        .and_then(|a| a.get("artifacthub.io/images"))
        .and_then(Value::as_str)
    else {
        return Vec::new();
    };
    let Ok(Value::Array(entries)) = super::yaml::from_str::<Value>(text) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| entry.get("image")?.as_str())
        .filter_map(|image| crate::reference::parse(image.trim()).ok())
        .map(|reference| reference.whole())
        .collect()
}

/// Whether the dependency behind `subchart` is enabled (see [`condition`]). A subchart with
/// no dependency entry or no condition is enabled.
fn enabled(parent: &Chart, subchart: &Subchart, values: &Value) -> bool {
    parent
        .dependencies
        .iter()
        .find(|d| match &d.alias {
            Some(alias) => alias == &subchart.scope,
            None => d.name == subchart.scope || d.name == subchart.chart.name,
        })
        .and_then(|d| condition(d, values))
        .unwrap_or(true)
}

/// A dependency's `condition` read in the parent's coalesced `values`: comma-separated
/// values paths, the first that holds a boolean decides (as in Helm); `None` when none does.
fn condition(dependency: &Dependency, values: &Value) -> Option<bool> {
    dependency
        .condition
        .as_deref()?
        .split(',')
        .map(str::trim)
        .filter(|path| !path.is_empty())
        .find_map(|path| {
            path.split('.')
                .try_fold(values, |value, key| value.get(key))
                .and_then(Value::as_bool)
        })
}

/// A subchart's coalesced values: its `values.yaml`, under the parent's values at its scope
/// key, with the parent's `global` over its own.
fn subchart_values(subchart: &Subchart, parent: &Value) -> Value {
    let mut values = subchart.chart.values.clone();
    if !values.is_object() {
        values = Value::Object(Map::new());
    }
    if let Some(scoped @ Value::Object(_)) = parent.get(&subchart.scope) {
        merge_values(&mut values, scoped);
    }
    if let Some(global @ Value::Object(_)) = parent.get("global") {
        merge_values(&mut values, &serde_json::json!({ "global": global }));
    }
    values
}

#[cfg(test)]
mod tests;
