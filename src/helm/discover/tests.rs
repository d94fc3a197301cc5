use super::*;
use serde_json::json;

const LABEL: &str = "chart web 1.2.3";

fn chart(name: &str, values: Value, templates: &[(&str, &str)]) -> Chart {
    Chart {
        metadata: json!({"apiVersion": "v2", "name": name, "version": "1.2.3", "appVersion": "2.0"}),
        name: name.into(),
        version: "1.2.3".into(),
        app_version: Some("2.0".into()),
        values,
        templates: templates
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect(),
        dependencies: Vec::new(),
        subcharts: Vec::new(),
    }
}

fn pairs(discovery: &Discovery) -> Vec<(&str, &str)> {
    discovery
        .images
        .iter()
        .map(|f| (f.reference.as_str(), f.why.as_str()))
        .collect()
}

fn redis_subchart(condition: Option<&str>, alias: Option<&str>) -> (Dependency, Subchart) {
    let redis = chart(
        "redis",
        json!({
            "global": {"imageRegistry": ""},
            "image": {"registry": "docker.io", "repository": "bitnami/redis", "tag": "7.2"},
        }),
        &[(
            "templates/statefulset.yaml",
            "      image: {{ .Values.metrics.image }}\n      image: {{ include \"common.images.image\" . }}\n",
        )],
    );
    let dependency = Dependency {
        name: "redis".into(),
        version: "19.x".into(),
        repository: "oci://registry.example/charts".into(),
        alias: alias.map(str::to_string),
        condition: condition.map(str::to_string),
    };
    let scope = alias.unwrap_or("redis").to_string();
    (
        dependency,
        Subchart {
            scope,
            chart: redis,
        },
    )
}

#[test]
fn every_source_and_why_shape() {
    let mut web = chart(
        "web",
        json!({
            "controller": {"image": {"registry": "registry.k8s.io", "image": "ingress-nginx/controller", "tag": "v1.11.3"}},
            "image": {"repository": "org/web", "tag": ""},
            "hook": {"image": "bitnami/kubectl:1.30"},
        }),
        &[
            ("templates/deployment.yaml", "      - image: {{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\n"),
            ("templates/admission-webhooks/job-createSecret.yaml", "          image: registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.4.4\n"),
            ("templates/NOTES.txt", "image: notes:1\n"),
        ],
    );
    web.metadata["annotations"] = json!({
        "artifacthub.io/images": "- name: controller\n  image: registry.k8s.io/ingress-nginx/controller:v1.11.3\n- name: extra\n  image: quay.io/org/extra:1\n  whitelisted: true\n- name: broken\n  image: Not Valid\n",
    });
    let (dependency, subchart) = redis_subchart(None, None);
    web.dependencies.push(dependency);
    web.subcharts.push(subchart);
    let discovery = discover(
        &web,
        LABEL,
        &json!({"redis": {"metrics": {"image": "oliver006/redis_exporter:v1.62"}}}),
    );
    assert_eq!(
        pairs(&discovery),
        [
            (
                "registry.k8s.io/ingress-nginx/controller:v1.11.3",
                "chart web 1.2.3: annotation artifacthub.io/images"
            ),
            (
                "quay.io/org/extra:1",
                "chart web 1.2.3: annotation artifacthub.io/images"
            ),
            (
                "docker.io/org/web:2.0",
                "chart web 1.2.3: values image (tag from appVersion)"
            ),
            (
                "docker.io/bitnami/kubectl:1.30",
                "chart web 1.2.3: values hook.image"
            ),
            (
                "registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.4.4",
                "chart web 1.2.3: templates/admission-webhooks/job-createSecret.yaml"
            ),
            (
                "docker.io/bitnami/redis:7.2",
                "chart web 1.2.3: subchart redis: values image"
            ),
            (
                "docker.io/oliver006/redis_exporter:v1.62",
                "chart web 1.2.3: subchart redis: values metrics.image"
            ),
        ]
    );
    assert_eq!(
        discovery.unevaluated,
        ["chart web 1.2.3: subchart redis: templates/statefulset.yaml:2: {{ include \"common.images.image\" . }}"]
    );
}

#[test]
fn templates_give_their_path_as_why() {
    let web = chart(
        "web",
        json!({"job": {"repository": "org/job"}}),
        &[(
            "templates/job.yaml",
            "image: \"{{ .Values.job.repository }}:{{ .Chart.AppVersion }}\"\n",
        )],
    );
    assert_eq!(
        pairs(&discover(&web, LABEL, &Value::Null)),
        [(
            "docker.io/org/job:2.0",
            "chart web 1.2.3: templates/job.yaml"
        )]
    );
}

#[test]
fn overrides_apply_over_the_chart_values() {
    let web = chart(
        "web",
        json!({"image": {"repository": "org/web", "tag": "1"}, "sidecar": {"image": "org/side:1"}}),
        &[],
    );
    let discovery = discover(
        &web,
        LABEL,
        &json!({"image": {"tag": "2"}, "sidecar": null, "extra": {"image": "org/extra:3"}}),
    );
    assert_eq!(
        pairs(&discovery),
        [
            ("docker.io/org/web:2", "chart web 1.2.3: values image"),
            (
                "docker.io/org/extra:3",
                "chart web 1.2.3: values extra.image"
            ),
        ]
    );
}

#[test]
fn global_image_registry_is_shared_down_to_subcharts() {
    let mut web = chart(
        "web",
        json!({
            "global": {"imageRegistry": "mirror.example:5000"},
            "image": {"registry": "docker.io", "repository": "bitnami/nginx", "tag": "1.27"},
        }),
        &[],
    );
    let (dependency, subchart) = redis_subchart(None, None);
    web.dependencies.push(dependency);
    web.subcharts.push(subchart);
    assert_eq!(
        pairs(&discover(&web, LABEL, &Value::Null)),
        [
            (
                "mirror.example:5000/bitnami/nginx:1.27",
                "chart web 1.2.3: values image"
            ),
            (
                "mirror.example:5000/bitnami/redis:7.2",
                "chart web 1.2.3: subchart redis: values image"
            ),
        ]
    );
}

#[test]
fn a_false_condition_skips_the_subchart() {
    for (values, alias, expected) in [
        (
            json!({"redis": {"enabled": false, "metrics": {"image": "org/exporter:1"}}}),
            None,
            0,
        ),
        (json!({"redis": {"enabled": true}}), None, 1),
        (json!({}), None, 1),
        (json!({"redis": {"enabled": "no"}}), None, 1),
        // The first path that holds a boolean decides.
        (
            json!({"redis": {}, "global": {"redis": {"enabled": false}}}),
            None,
            0,
        ),
        (json!({"cache": {"enabled": false}}), Some("cache"), 0),
    ] {
        let mut web = chart("web", values.clone(), &[]);
        let condition = match alias {
            Some(_) => "cache.enabled",
            None => "redis.enabled,global.redis.enabled",
        };
        let (dependency, subchart) = redis_subchart(Some(condition), alias);
        web.dependencies.push(dependency);
        web.subcharts.push(subchart);
        let found = discover(&web, LABEL, &Value::Null).images.len();
        assert_eq!(found, expected, "{values} {alias:?}");
        // The user's values decide too.
        let off = json!({"redis": {"enabled": false}, "cache": {"enabled": false}});
        assert!(discover(&web, LABEL, &off).images.is_empty(), "{values}");
    }
}

#[test]
fn values_of_a_disabled_dependency_not_attached_are_not_read() {
    let mut web = chart(
        "web",
        json!({"redis": {"enabled": false, "image": "org/off:1"}, "pg": {"image": "org/pg:1"}}),
        &[],
    );
    let (dependency, _) = redis_subchart(Some("redis.enabled"), None);
    web.dependencies.push(dependency);
    assert_eq!(
        pairs(&discover(&web, LABEL, &Value::Null)),
        [("docker.io/org/pg:1", "chart web 1.2.3: values pg.image")]
    );
}

#[test]
fn the_unevaluated_report_is_sorted_and_deduplicated() {
    let web = chart(
        "web",
        json!({}),
        &[
            ("templates/b.yaml", "image: {{ include \"x\" . }}\nimage: {{ include \"x\" . }}\n\n\n\n\n\n\n\nimage: {{ include \"y\" . }}\n"),
            ("templates/a.yaml", "image: {{ tpl .Values.image . }}\n"),
            ("templates/c.yaml", "image: {{ include \"x\" . }}\n"),
        ],
    );
    let mut twice = web.clone();
    twice.subcharts.push(Subchart {
        scope: "copy".into(),
        chart: web.clone(),
    });
    assert_eq!(
        discover(&twice, LABEL, &Value::Null).unevaluated,
        [
            "chart web 1.2.3: subchart copy: templates/a.yaml:1: {{ tpl .Values.image . }}",
            "chart web 1.2.3: subchart copy: templates/b.yaml:1: {{ include \"x\" . }}",
            "chart web 1.2.3: subchart copy: templates/b.yaml:2: {{ include \"x\" . }}",
            "chart web 1.2.3: subchart copy: templates/b.yaml:10: {{ include \"y\" . }}",
            "chart web 1.2.3: subchart copy: templates/c.yaml:1: {{ include \"x\" . }}",
            "chart web 1.2.3: templates/a.yaml:1: {{ tpl .Values.image . }}",
            "chart web 1.2.3: templates/b.yaml:1: {{ include \"x\" . }}",
            "chart web 1.2.3: templates/b.yaml:2: {{ include \"x\" . }}",
            "chart web 1.2.3: templates/b.yaml:10: {{ include \"y\" . }}",
            "chart web 1.2.3: templates/c.yaml:1: {{ include \"x\" . }}",
        ]
    );
}

#[test]
fn images_are_deduplicated_first_why_wins() {
    let mut web = chart(
        "web",
        json!({"image": "nginx:1.27"}),
        &[("templates/d.yaml", "image: docker.io/library/nginx:1.27\n")],
    );
    web.metadata["annotations"] =
        json!({"artifacthub.io/images": "- name: n\n  image: nginx:1.27\n"});
    web.subcharts.push(Subchart {
        scope: "again".into(),
        chart: web.clone(),
    });
    assert_eq!(
        pairs(&discover(&web, LABEL, &Value::Null)),
        [(
            "docker.io/library/nginx:1.27",
            "chart web 1.2.3: annotation artifacthub.io/images"
        )]
    );
}

#[test]
fn subchart_values_are_scoped_and_nested() {
    let inner = chart(
        "inner",
        json!({"image": {"repository": "org/inner", "tag": "1"}}),
        &[],
    );
    let mut middle = chart("middle", json!({"inner": {"image": {"tag": "2"}}}), &[]);
    middle.subcharts.push(Subchart {
        scope: "inner".into(),
        chart: inner,
    });
    let mut web = chart("web", json!({}), &[]);
    web.subcharts.push(Subchart {
        scope: "middle".into(),
        chart: middle,
    });
    let overrides = json!({"middle": {"inner": {"image": {"tag": "3"}}}});
    assert_eq!(
        pairs(&discover(&web, LABEL, &overrides)),
        [(
            "docker.io/org/inner:3",
            "chart web 1.2.3: subchart middle: subchart inner: values image"
        )]
    );
}

#[test]
fn merge_values_coalesces_like_helm() {
    let mut base = json!({
        "a": {"b": 1, "c": {"d": 2}, "keep": true},
        "gone": {"x": 1},
        "scalar": 1,
        "list": [1, 2],
    });
    merge_values(
        &mut base,
        &json!({
            "a": {"c": {"e": 3}, "b": null},
            "gone": null,
            "scalar": {"now": "map"},
            "list": [3],
            "new": {"n": null, "m": 1},
            "absent": null,
        }),
    );
    assert_eq!(
        base,
        json!({
            "a": {"c": {"d": 2, "e": 3}, "keep": true},
            "scalar": {"now": "map"},
            "list": [3],
            "new": {"m": 1},
        })
    );
    let before = base.clone();
    merge_values(&mut base, &Value::Null);
    assert_eq!(base, before);
    merge_values(&mut base, &json!({}));
    assert_eq!(base, before);
    let mut not_a_map = json!("x");
    merge_values(&mut not_a_map, &json!({"a": 1}));
    assert_eq!(not_a_map, json!({"a": 1}));
}
