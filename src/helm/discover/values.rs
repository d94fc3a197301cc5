//! Image blocks in a chart's coalesced values: strings under `image`/`*Image` keys, and maps
//! in the shapes charts use (`{registry, repository, tag, digest}` as bitnami writes them,
//! `{registry, image, tag, digest}` as ingress-nginx does, `{override, repository, tag,
//! digest, useDigest}` as cilium does, `{image: {registry, repository, tag}}`, …), with Helm's
//! `tag | default .Chart.AppVersion` convention and the `global.imageRegistry` /
//! `global.image.registry` overrides.

use serde_json::{Map, Value};

/// An image read from values: its normalised reference, the dotted path of the block or
/// string (`controller.image`, `extraContainers[0].image`), and whether the tag came from
/// the chart's appVersion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ValueImage {
    pub reference: String,
    pub path: String,
    pub tag_from_app_version: bool,
}

/// Keys of a map that, beside `repository`, make it an image block when it is not under an
/// image key (a bare `repository:` is too often a Git or Helm repository).
const BLOCK_SIBLINGS: [&str; 5] = ["tag", "registry", "digest", "pullPolicy", "imagePullPolicy"];

/// The images in `values` (coalesced), in document order, leaving out the top-level keys
/// in `skip` (subcharts' scopes, read with the subcharts). `app_version` fills empty tags.
/// Only what `crate::reference::parse` accepts is returned.
pub(super) fn images(values: &Value, app_version: Option<&str>, skip: &[&str]) -> Vec<ValueImage> {
    let global = values.get("global");
    let global_registry = [
        global.and_then(|g| g.get("imageRegistry")),
        global
            .and_then(|g| g.get("image"))
            .and_then(|i| i.get("registry")),
    ]
    .into_iter()
    .flatten()
    .filter_map(scalar)
    .find(|r| !r.is_empty());
    let mut walk = Walk {
        global_registry,
        app_version: app_version.filter(|v| !v.is_empty()),
        found: Vec::new(),
    };
    match values {
        Value::Object(map) => {
            for (key, value) in map.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
                walk.value(value, key.clone(), Some(key));
            }
        }
        other => walk.value(other, String::new(), None),
    }
    walk.found
}

/// Whether a key names an image: `image`, or a camel-case `…Image` (`initImage`).
fn is_image_key(key: &str) -> bool {
    key == "image" || key.ends_with("Image")
}

/// A string, or a number or boolean as text (`tag: 7.2`); not null, maps or lists.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) if n.is_f64() => f.to_string(),
            _ => n.to_string(),
        }),
        _ => None,
    }
}

/// Whether the first component of a repository names a registry host (the distribution
/// reference grammar's rule).
fn has_host(repository: &str) -> bool {
    repository.split_once('/').is_some_and(|(first, _)| {
        first.contains('.') || first.contains(':') || first.eq_ignore_ascii_case("localhost")
    })
}

/// The parts of an image block (strings trimmed; empty when absent).
#[derive(Debug, Default)]
struct Block {
    registry: Option<String>,
    repository: String,
    tag: String,
    digest: String,
    /// A whole reference that replaces the block (cilium's `override`).
    whole: Option<String>,
    /// The keys whose strings the block used (not walked again as images).
    used: [&'static str; 2],
}

/// The block `map` is, if it is one (`under_image_key`: the map's key is an image key).
fn block(map: &Map<String, Value>, under_image_key: bool) -> Option<Block> {
    let text = |key: &str| map.get(key).and_then(scalar);
    let registry = map.get("registry").and_then(scalar);
    let (repository, field) = if let Some(Value::String(r)) = map.get("repository") {
        if !under_image_key && !BLOCK_SIBLINGS.iter().any(|k| map.contains_key(*k)) {
            return None;
        }
        (r.trim().to_string(), "repository")
    } else if let (Some(Value::String(image)), true) =
        (map.get("image"), registry.is_some() || under_image_key)
    {
        (image.trim().to_string(), "image")
    } else if let (Some(Value::String(name)), true) = (map.get("name"), under_image_key) {
        (name.trim().to_string(), "name")
    } else {
        return None;
    };
    let use_digest = !matches!(map.get("useDigest"), Some(Value::Bool(false)));
    Some(Block {
        registry,
        repository,
        tag: text("tag").unwrap_or_default(),
        digest: if use_digest {
            text("digest").unwrap_or_default()
        } else {
            String::new()
        },
        whole: map
            .get("override")
            .and_then(scalar)
            .filter(|o| under_image_key && !o.is_empty()),
        used: [field, "registry"],
    })
}

struct Walk<'a> {
    global_registry: Option<String>,
    app_version: Option<&'a str>,
    found: Vec<ValueImage>,
}

impl Walk<'_> {
    fn value(&mut self, value: &Value, path: String, key: Option<&str>) {
        let join = |k: &str| {
            if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            }
        };
        match value {
            Value::Object(map) => {
                let under_image_key = key.is_some_and(is_image_key);
                let found = block(map, under_image_key);
                if let Some(found) = &found {
                    self.block(found, &path);
                }
                for (k, v) in map {
                    let used = found.as_ref().is_some_and(|b| b.used.contains(&k.as_str()));
                    if !(used || found.is_some() && v.is_string()) {
                        self.value(v, join(k), Some(k));
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.value(item, format!("{path}[{i}]"), None);
                }
            }
            Value::String(text) if key.is_some_and(is_image_key) => {
                if let Ok(reference) = crate::reference::parse(text.trim()) {
                    self.found.push(ValueImage {
                        reference: reference.whole(),
                        path,
                        tag_from_app_version: false,
                    });
                }
            }
            _ => {}
        }
    }

    fn block(&mut self, block: &Block, path: &str) {
        if let Some(whole) = &block.whole {
            if let Ok(reference) = crate::reference::parse(whole) {
                self.found.push(ValueImage {
                    reference: reference.whole(),
                    path: path.to_string(),
                    tag_from_app_version: false,
                });
            }
            return;
        }
        let repository = block.repository.trim_matches('/');
        if repository.is_empty() {
            return;
        }
        let registry = match (&self.global_registry, &block.registry) {
            (Some(global), Some(_)) => Some(global.clone()),
            (Some(global), None) if !has_host(repository) => Some(global.clone()),
            (_, own) => own.clone().filter(|r| !r.is_empty()),
        };
        let mut text = match registry {
            Some(registry) => format!("{}/{repository}", registry.trim_end_matches('/')),
            None => repository.to_string(),
        };
        let mut tag_from_app_version = false;
        if !block.tag.is_empty() {
            text = format!("{text}:{}", block.tag);
        } else if block.digest.is_empty() {
            let Some(app_version) = self.app_version else {
                return;
            };
            text = format!("{text}:{app_version}");
            tag_from_app_version = true;
        }
        if !block.digest.is_empty() {
            text = format!("{text}@{}", block.digest);
        }
        if let Ok(reference) = crate::reference::parse(&text) {
            self.found.push(ValueImage {
                reference: reference.whole(),
                path: path.to_string(),
                tag_from_app_version,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn found(values: Value, app_version: Option<&str>) -> Vec<(String, String, bool)> {
        images(&values, app_version, &[])
            .into_iter()
            .map(|i| (i.reference, i.path, i.tag_from_app_version))
            .collect()
    }

    fn row(reference: &str, path: &str, from_app: bool) -> (String, String, bool) {
        (reference.into(), path.into(), from_app)
    }

    #[test]
    fn strings_under_image_keys() {
        let values = json!({
            "image": "nginx:1.27",
            "sidecar": {"initImage": "quay.io/team/init:v1", "image": "Not An Image"},
            "extraContainers": [{"name": "x", "image": "busybox"}],
            "imageTag": "1.0",
            "note": "redis:7",
            "empty": {"image": ""},
        });
        assert_eq!(
            found(values, None),
            [
                row("docker.io/library/nginx:1.27", "image", false),
                row("quay.io/team/init:v1", "sidecar.initImage", false),
                row(
                    "docker.io/library/busybox:latest",
                    "extraContainers[0].image",
                    false
                ),
            ]
        );
    }

    #[test]
    fn block_shapes() {
        let values = json!({
            "bitnami": {"image": {"registry": "docker.io", "repository": "bitnami/redis", "tag": "7.2", "digest": "", "pullPolicy": "IfNotPresent"}},
            "controller": {"image": {"registry": "registry.k8s.io", "image": "ingress-nginx/controller", "tag": "v1.11.3", "digest": DIGEST, "digestChroot": "sha256:x"}},
            "cilium": {"image": {"override": null, "repository": "quay.io/cilium/cilium", "tag": "v1.16.1", "digest": DIGEST, "useDigest": false}},
            "operator": {"image": {"override": "quay.io/cilium/operator-generic:v1.16.1", "repository": "quay.io/cilium/operator", "tag": "v1.16.0"}},
            "plain": {"repository": "grafana/grafana", "tag": 10.4},
            "nested": {"image": {"image": {"registry": "ghcr.io", "repository": "org/app", "tag": "1"}}},
            "named": {"image": {"name": "org/named", "tag": "2"}},
            "git": {"repository": "https://example.invalid/org/repo"},
            "helm": {"repository": "org/not-an-image"},
            "disabled": {"image": {"repository": "", "tag": "1"}},
        });
        assert_eq!(
            found(values, None),
            [
                row("docker.io/bitnami/redis:7.2", "bitnami.image", false),
                row(
                    &format!("registry.k8s.io/ingress-nginx/controller:v1.11.3@{DIGEST}"),
                    "controller.image",
                    false
                ),
                row("quay.io/cilium/cilium:v1.16.1", "cilium.image", false),
                row(
                    "quay.io/cilium/operator-generic:v1.16.1",
                    "operator.image",
                    false
                ),
                row("docker.io/grafana/grafana:10.4", "plain", false),
                row("ghcr.io/org/app:1", "nested.image.image", false),
                row("docker.io/org/named:2", "named.image", false),
            ]
        );
    }

    #[test]
    fn empty_tags_take_the_app_version() {
        let values = json!({
            "image": {"repository": "org/app", "tag": ""},
            "pinned": {"image": {"repository": "org/pinned", "digest": DIGEST}},
        });
        assert_eq!(
            found(values.clone(), Some("1.4.0")),
            [
                row("docker.io/org/app:1.4.0", "image", true),
                row(
                    &format!("docker.io/org/pinned@{DIGEST}"),
                    "pinned.image",
                    false
                ),
            ]
        );
        // No tag and no appVersion: nothing to pin, nothing guessed.
        assert_eq!(
            found(values, None),
            [row(
                &format!("docker.io/org/pinned@{DIGEST}"),
                "pinned.image",
                false
            )]
        );
    }

    #[test]
    fn global_image_registry_overrides_blocks() {
        let values = json!({
            "global": {"imageRegistry": "mirror.example:5000"},
            "image": {"registry": "docker.io", "repository": "bitnami/redis", "tag": "7.2"},
            "bare": {"image": {"repository": "bitnami/os-shell", "tag": "12"}},
            "hosted": {"image": {"repository": "quay.io/org/x", "tag": "1"}},
            "string": {"image": "bitnami/kubectl:1.30"},
        });
        assert_eq!(
            found(values, None),
            [
                row("mirror.example:5000/bitnami/redis:7.2", "image", false),
                row(
                    "mirror.example:5000/bitnami/os-shell:12",
                    "bare.image",
                    false
                ),
                row("quay.io/org/x:1", "hosted.image", false),
                row("docker.io/bitnami/kubectl:1.30", "string.image", false),
            ]
        );
        let values = json!({
            "global": {"image": {"registry": "mirror.example"}},
            "image": {"registry": "docker.io", "repository": "org/app", "tag": "1"},
        });
        assert_eq!(
            found(values, None),
            [row("mirror.example/org/app:1", "image", false)]
        );
    }
}
