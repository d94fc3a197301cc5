//! Tests of `helm::index`: the line scan, its fallback, selection and URLs.

use super::*;

/// An index as `helm repo index` writes it (sigs.k8s.io/yaml: sorted keys, sequences at
/// their key's indentation).
const HELM: &str = r#"apiVersion: v1
entries:
  common:
  - apiVersion: v2
    created: "2024-05-01T10:00:00.123Z"
    digest: 1111111111111111111111111111111111111111111111111111111111111111
    name: common
    type: library
    urls:
    - charts/common-2.0.0.tgz
    version: 2.0.0
  ingress-nginx:
  - annotations:
      artifacthub.io/images: |
        - name: controller
          image: registry.k8s.io/ingress-nginx/controller:v1.11.3

        - name: webhook
          image: registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.4.4
    apiVersion: v2
    appVersion: 1.12.0-beta.0
    created: "2024-10-01T10:00:00Z"
    description: "Ingress controller for Kubernetes using NGINX as a reverse proxy and
      load balancer"
    digest: aaaa000000000000000000000000000000000000000000000000000000000000
    name: ingress-nginx
    urls:
    - ingress-nginx-4.12.0-beta.0.tgz
    version: 4.12.0-beta.0
  - apiVersion: v2
    appVersion: 1.11.3
    created: "2024-09-01T10:00:00Z"
    digest: bbbb000000000000000000000000000000000000000000000000000000000000
    name: ingress-nginx
    urls:
    - https://github.com/kubernetes/ingress-nginx/releases/download/helm-chart-4.11.3/ingress-nginx-4.11.3.tgz
    version: 4.11.3
  - apiVersion: v2
    appVersion: "1.11"
    digest: cccc000000000000000000000000000000000000000000000000000000000000
    name: ingress-nginx
    urls:
    - ingress-nginx-4.11.10.tgz
    version: 4.11.10
  - apiVersion: v2
    appVersion: 1.10.0
    name: ingress-nginx
    urls:
    - ingress-nginx-4.10.0.tgz
    version: 4.10.0
  # a comment at the chart level
  redis:
  - name: redis
    urls:
    - redis-nightly.tgz
    version: nightly
  - name: redis
    urls:
    - redis-19.0.0.tgz
    version: 19.0.0
generated: "2024-10-01T10:00:00Z"
serverInfo: {}
"#;

fn pick(index: &str, chart: &str, constraint: &str) -> Result<IndexEntry, IndexError> {
    select(
        index.as_bytes(),
        chart,
        &Constraint::parse(constraint).unwrap(),
    )
}

fn versions_of(index: &str, chart: &str, constraint: &str) -> String {
    pick(index, chart, constraint).unwrap().version
}

#[test]
fn the_helm_layout_is_read_from_the_chart_block_only() {
    let Scan::Found(block) = scan(HELM, "ingress-nginx") else {
        panic!("not found by the scan")
    };
    assert!(block.starts_with("  - annotations:"), "{block}");
    assert!(block.ends_with("    version: 4.10.0\n  # a comment at the chart level\n"));
    let entry = pick(HELM, "ingress-nginx", "4.11.*").unwrap();
    assert_eq!(
        entry,
        IndexEntry {
            name: "ingress-nginx".into(),
            version: "4.11.10".into(),
            urls: vec!["ingress-nginx-4.11.10.tgz".into()],
            digest: Some("cccc".to_string() + &"0".repeat(60)),
            created: None,
            app_version: Some("1.11".into()),
        }
    );
    assert_eq!(
        versions_of(HELM, "ingress-nginx", "~4.11.0 <4.11.5"),
        "4.11.3"
    );
    assert_eq!(versions_of(HELM, "ingress-nginx", ">=4"), "4.11.10");
    assert_eq!(
        versions_of(HELM, "ingress-nginx", ">=4.12.0-0"),
        "4.12.0-beta.0"
    );
    assert_eq!(versions_of(HELM, "common", "2.x"), "2.0.0");
    let created = pick(HELM, "ingress-nginx", "4.11.3").unwrap().created;
    assert_eq!(created.as_deref(), Some("2024-09-01T10:00:00Z"));
}

#[test]
fn a_version_written_exactly_wins_before_semver_order() {
    // `nightly` is skipped by ranges (it is not a version)...
    assert_eq!(versions_of(HELM, "redis", "*"), "19.0.0");
    // ...and an entry whose text is exactly the constraint's wins before semver order.
    let index = HELM.replace("version: 19.0.0", "version: v19.0.0");
    assert_eq!(versions_of(&index, "redis", "v19.0.0"), "v19.0.0");
    assert_eq!(versions_of(&index, "redis", "19.0.0"), "v19.0.0");
}

#[test]
fn other_layouts_fall_back_to_reading_everything() {
    let want = pick(HELM, "ingress-nginx", "4.11.*").unwrap();
    let json =
        serde_json::to_string(&serde_norway::from_str::<serde_json::Value>(HELM).unwrap()).unwrap();
    assert_eq!(scan(&json, "ingress-nginx"), Scan::Unexpected);
    let flow = "apiVersion: v1\nentries: {ingress-nginx: [{version: 4.11.10, urls: [ingress-nginx-4.11.10.tgz], appVersion: '1.11', digest: cccc000000000000000000000000000000000000000000000000000000000000}]}\n";
    assert_eq!(scan(flow, "ingress-nginx"), Scan::Unexpected);
    let anchored = HELM.replace(
        "  common:\n  - apiVersion: v2",
        "  common:\n  - &c apiVersion: v2",
    ) + "other: *c\n";
    let indented = HELM.replace("\n  ", "\n    ");
    let quoted = HELM.replace("  ingress-nginx:\n", "  \"ingress-nginx\":  # quoted\n");
    let crlf = HELM.replace('\n', "\r\n");
    let leading = format!("---\n{HELM}");
    for (what, index) in [
        ("json", json.as_str()),
        ("flow", flow),
        ("anchored", &anchored),
        ("indented", &indented),
        ("quoted", &quoted),
        ("crlf", &crlf),
        ("document start", &leading),
    ] {
        assert_eq!(
            pick(index, "ingress-nginx", "4.11.*").unwrap(),
            want,
            "{what}"
        );
    }
    assert!(matches!(scan(&indented, "ingress-nginx"), Scan::Found(_)));
    assert!(matches!(scan(&quoted, "ingress-nginx"), Scan::Found(_)));
    assert!(matches!(scan(&crlf, "ingress-nginx"), Scan::Found(_)));
}

#[test]
fn the_scan_agrees_with_a_full_read_on_a_generated_index() {
    let mut index = String::from("apiVersion: v1\nentries:\n");
    for chart in 0..20 {
        index.push_str(&format!("  chart-{chart}:\n"));
        for v in (0..20).rev() {
            index.push_str(&format!(
                "  - annotations:\n      note: |\n        line one\n\n        line two: {v}\n    \
                 description: \"chart {chart} # not a comment\"\n    digest: \"{chart:064}\"\n    \
                 keywords:\n    - a\n    name: chart-{chart}\n    urls:\n    - \
                 chart-{chart}-{}.{v}.0.tgz\n    version: {}.{v}.0\n",
                chart % 3,
                chart % 3
            ));
        }
    }
    index.push_str("generated: \"2024-01-01T00:00:00Z\"\n");
    let full: FullIndex = serde_norway::from_str(&index).unwrap();
    let entries = full.entries.unwrap();
    for chart in 0..20 {
        let name = format!("chart-{chart}");
        let Scan::Found(_) = scan(&index, &name) else {
            panic!("{name} not found by the scan")
        };
        for constraint in ["*", "~1.3", ">=0.5 <0.20", "2.19.0"] {
            let c = Constraint::parse(constraint).unwrap();
            let fast = select(index.as_bytes(), &name, &c).map_err(|e| e.to_string());
            let listed = entries[&name].clone().unwrap();
            let full = choose(&name, listed, &c).map_err(|e| e.to_string());
            assert_eq!(fast, full, "{name} {constraint}");
        }
    }
}

#[test]
fn a_missing_chart_names_similar_ones() {
    let err = pick(HELM, "ingress-ngnix", "*").unwrap_err();
    let IndexError::NoChart { chart, similar } = &err else {
        panic!("{err}")
    };
    assert_eq!(chart, "ingress-ngnix");
    assert_eq!(similar, &["ingress-nginx"]);
    assert!(
        err.to_string().contains("did you mean ingress-nginx?"),
        "{err}"
    );
    let IndexError::NoChart { similar, .. } = pick(HELM, "nginx", "*").unwrap_err() else {
        panic!()
    };
    assert_eq!(similar, ["ingress-nginx"]);
    let IndexError::NoChart { similar, .. } = pick(HELM, "postgresql", "*").unwrap_err() else {
        panic!()
    };
    assert!(similar.is_empty());
    // The same through the fallback.
    let json =
        serde_json::to_string(&serde_norway::from_str::<serde_json::Value>(HELM).unwrap()).unwrap();
    let IndexError::NoChart { similar, .. } = pick(&json, "ingress-ngnix", "*").unwrap_err() else {
        panic!()
    };
    assert_eq!(similar, ["ingress-nginx"]);
}

#[test]
fn no_matching_version_lists_the_highest_ones() {
    let err = pick(HELM, "ingress-nginx", "5.x").unwrap_err();
    let IndexError::NoVersion {
        chart,
        constraint,
        available,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        (chart.as_str(), constraint.as_str()),
        ("ingress-nginx", "5.x")
    );
    assert_eq!(available, &["4.12.0-beta.0", "4.11.10", "4.11.3", "4.10.0"]);
    assert!(
        err.to_string()
            .contains("the highest it lists: 4.12.0-beta.0"),
        "{err}"
    );
    // A pre-release is not picked by a range that does not name one.
    let err = pick(HELM, "ingress-nginx", "4.12.x").unwrap_err();
    assert!(matches!(err, IndexError::NoVersion { .. }), "{err}");
    let empty = "apiVersion: v1\nentries:\n  empty:\n  other: []\n";
    let err = pick(empty, "empty", "*").unwrap_err();
    assert!(err.to_string().contains("it lists no versions"), "{err}");
}

#[test]
fn what_is_not_an_index_is_malformed() {
    for (what, text) in [
        ("html", "<html><body>Not Found</body></html>\n"),
        (
            "no apiVersion",
            "entries:\n  a:\n  - version: 1.0.0\n    urls: [a.tgz]\n",
        ),
        ("bad yaml", "apiVersion: v1\nentries:\n  a: [\n"),
        (
            "wrong shape",
            "apiVersion: v1\nentries:\n  a:\n  - version: 1.0.0\n    urls: a.tgz\n",
        ),
        (
            "no urls",
            "apiVersion: v1\nentries:\n  a:\n  - version: 1.0.0\n",
        ),
    ] {
        let err = pick(text, "a", "*").unwrap_err();
        assert!(matches!(err, IndexError::Malformed { .. }), "{what}: {err}");
    }
    let err = select(
        b"apiVersion: v1\n\xff\xfe",
        "a",
        &Constraint::parse("*").unwrap(),
    );
    assert!(err.unwrap_err().to_string().contains("UTF-8"));
    let err = pick(
        "apiVersion: v1\nentries:\n  a:\n  - version: 1.0.0\n",
        "a",
        "*",
    );
    assert!(err
        .unwrap_err()
        .to_string()
        .contains("lists no download URL"));
}

#[test]
fn simple_keys_only() {
    assert_eq!(simple_key("nginx:"), Some("nginx"));
    assert_eq!(simple_key("nginx:  # c"), Some("nginx"));
    assert_eq!(simple_key("\"nginx\":"), Some("nginx"));
    assert_eq!(simple_key("'nginx':"), Some("nginx"));
    for other in [
        "nginx: []",
        "nginx",
        "\"a\\\"b\":",
        "? nginx",
        "&a nginx:",
        "- x:",
        ":",
    ] {
        assert_eq!(simple_key(other), None, "{other}");
    }
}

#[test]
fn chart_urls_resolve_as_helm_resolves_them() {
    let cases = [
        ("https://charts.example.com/stable", "nginx-1.0.0.tgz"),
        ("https://charts.example.com/stable/", "nginx-1.0.0.tgz"),
        (
            "https://charts.example.com/stable",
            "charts/nginx-1.0.0.tgz",
        ),
        ("https://charts.example.com/stable", "/dl/nginx-1.0.0.tgz"),
        (
            "https://charts.example.com/stable?token=x",
            "nginx-1.0.0.tgz",
        ),
        ("https://charts.example.com", "nginx-1.0.0.tgz"),
        (
            "https://charts.example.com/stable",
            "https://cdn.example.org/n-1.tgz",
        ),
        (
            "https://charts.example.com/stable",
            "//cdn.example.org/n-1.tgz",
        ),
        ("http://127.0.0.1:8080/a/b", "../c/n-1.tgz"),
        ("https://charts.example.com/stable", "nginx%201.0.0.tgz"),
    ];
    let want = [
        "https://charts.example.com/stable/nginx-1.0.0.tgz",
        "https://charts.example.com/stable/nginx-1.0.0.tgz",
        "https://charts.example.com/stable/charts/nginx-1.0.0.tgz",
        "https://charts.example.com/dl/nginx-1.0.0.tgz",
        "https://charts.example.com/stable/nginx-1.0.0.tgz?token=x",
        "https://charts.example.com/nginx-1.0.0.tgz",
        "https://cdn.example.org/n-1.tgz",
        "https://cdn.example.org/n-1.tgz",
        "http://127.0.0.1:8080/a/c/n-1.tgz",
        "https://charts.example.com/stable/nginx%201.0.0.tgz",
    ];
    for ((repo, url), want) in cases.iter().zip(want) {
        assert_eq!(chart_url(repo, url).unwrap(), want, "{repo} + {url}");
    }
    for (repo, url) in [("not a url", "x.tgz"), ("mailto:a@b", "x.tgz")] {
        let err = chart_url(repo, url).unwrap_err();
        assert!(matches!(err, IndexError::BadUrl { .. }), "{err}");
    }
}

#[test]
fn a_chart_listed_twice_is_refused_not_picked_by_position() {
    let index = "apiVersion: v1\nentries:\n  web:\n  - name: web\n    version: 1.0.0\n    urls: [web-1.0.0.tgz]\n  web:\n  - name: web\n    version: 2.0.0\n    urls: [web-2.0.0.tgz]\n";
    let err = select(index.as_bytes(), "web", &Constraint::parse("*").unwrap()).unwrap_err();
    assert!(err.to_string().contains("lists chart web twice"), "{err}");
}
