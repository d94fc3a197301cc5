//! Tests of `helm::archive`, on archives built in memory.

use super::*;
use std::io::Write as _;

/// A gzip tar of `files` with their names as given (even unsafe ones); a name ending in `/`
/// is a directory entry.
fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        let name = path.as_bytes();
        header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
        let dir = path.ends_with('/');
        header.set_entry_type(if dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        header.set_size(if dir { 0 } else { data.len() as u64 });
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append(&header, if dir { &b""[..] } else { data })
            .unwrap();
    }
    gzip(&builder.into_inner().unwrap())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn chart_yaml(name: &str, version: &str) -> String {
    format!("apiVersion: v2\nname: {name}\nversion: {version}\n")
}

#[test]
fn metadata_values_and_every_template() {
    let chart = "apiVersion: v2\nname: web\nversion: 1.10\nappVersion: 2.0\ndescription: A web app\n\
                 annotations:\n  artifacthub.io/images: |\n    - name: web\n      image: example/web:2.0\n  \
                 replicas: 3\nkeywords: [web, http]\n";
    let archive = tgz(&[
        ("web/", b""),
        ("web/Chart.yaml", chart.as_bytes()),
        (
            "web/values.yaml",
            b"image:\n  repository: example/web\n  tag: \"2.0\"\nport: 80\n",
        ),
        ("web/templates/", b""),
        (
            "web/templates/job.yaml",
            b"kind: Job\nimage: {{ .Values.image.repository }}\n",
        ),
        (
            "web/templates/_helpers.tpl",
            b"{{- define \"web.name\" -}}web{{- end }}",
        ),
        ("web/templates/hooks/db/migrate.yaml", b"kind: Job\n"),
        ("web/templates/NOTES.txt", b"Thanks\n"),
        ("web/README.md", b"# web\n"),
        ("web/crds/crd.yaml", b"kind: CustomResourceDefinition\n"),
        ("README-outside.md", b"beside the chart directory\n"),
    ]);
    let loaded = load(&archive).unwrap();
    assert_eq!(loaded.name, "web");
    assert_eq!(loaded.version, "1.10");
    assert_eq!(loaded.app_version.as_deref(), Some("2.0"));
    assert_eq!(loaded.metadata["version"], "1.10");
    assert_eq!(loaded.metadata["appVersion"], "2.0");
    assert_eq!(loaded.metadata["description"], "A web app");
    assert_eq!(loaded.metadata["annotations"]["replicas"], "3");
    assert_eq!(
        loaded.metadata["keywords"],
        serde_json::json!(["web", "http"])
    );
    assert_eq!(
        loaded.values,
        serde_json::json!({"image": {"repository": "example/web", "tag": "2.0"}, "port": 80})
    );
    let paths = loaded
        .templates
        .iter()
        .map(|(p, _)| p.as_str())
        .collect::<Vec<_>>();
    assert_eq!(
        paths,
        [
            "templates/NOTES.txt",
            "templates/_helpers.tpl",
            "templates/hooks/db/migrate.yaml",
            "templates/job.yaml"
        ]
    );
    assert_eq!(
        loaded.templates[3].1,
        "kind: Job\nimage: {{ .Values.image.repository }}\n"
    );
    assert!(loaded.dependencies.is_empty() && loaded.subcharts.is_empty());
}

#[test]
fn values_default_to_an_empty_mapping() {
    let yaml = chart_yaml("a", "1.0.0");
    let absent = load(&tgz(&[("a/Chart.yaml", yaml.as_bytes())])).unwrap();
    assert_eq!(absent.values, serde_json::json!({}));
    let empty = tgz(&[
        ("a/Chart.yaml", yaml.as_bytes()),
        ("a/values.yaml", b"# none\n"),
    ]);
    assert_eq!(load(&empty).unwrap().values, serde_json::json!({}));
}

#[test]
fn dependencies_take_the_lock_files_versions() {
    let chart = "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n\
                 - name: redis\n  version: 19.x.x\n  repository: https://charts.example.com/stable\n  \
                 alias: cache\n  condition: cache.enabled\n\
                 - name: redis\n  version: 19.x.x\n  repository: https://charts.example.com/stable\n  alias: queue\n\
                 - name: common\n  version: ^2.0.0\n  repository: oci://registry.example.com/charts\n";
    let lock = "dependencies:\n- name: redis\n  repository: https://charts.example.com/stable\n  version: 19.6.1\n\
                - name: redis\n  repository: https://charts.example.com/stable\n  version: 19.6.2\n\
                - name: common\n  repository: oci://registry.example.com/charts\n  version: 2.20.5\n\
                digest: sha256:abc\ngenerated: \"2024-01-01T00:00:00Z\"\n";
    let loaded = load(&tgz(&[
        ("app/Chart.yaml", chart.as_bytes()),
        ("app/Chart.lock", lock.as_bytes()),
    ]))
    .unwrap();
    assert_eq!(
        loaded.dependencies,
        [
            Dependency {
                name: "redis".into(),
                version: "19.6.1".into(),
                repository: "https://charts.example.com/stable".into(),
                alias: Some("cache".into()),
                condition: Some("cache.enabled".into()),
            },
            Dependency {
                name: "redis".into(),
                version: "19.6.2".into(),
                repository: "https://charts.example.com/stable".into(),
                alias: Some("queue".into()),
                condition: None,
            },
            Dependency {
                name: "common".into(),
                version: "2.20.5".into(),
                repository: "oci://registry.example.com/charts".into(),
                alias: None,
                condition: None,
            },
        ]
    );
    assert_eq!(loaded.missing_dependencies().len(), 3);
    // Without a lock the declared constraints stay.
    let unlocked = load(&tgz(&[("app/Chart.yaml", chart.as_bytes())])).unwrap();
    assert_eq!(unlocked.dependencies[0].version, "19.x.x");
}

#[test]
fn a_v1_chart_declares_dependencies_in_requirements_yaml() {
    let chart = "apiVersion: v1\nname: old\nversion: 0.1.0\n";
    let requirements = "dependencies:\n- name: mysql\n  version: ~1.2\n  repository: '@stable'\n";
    let lock =
        "dependencies:\n- name: mysql\n  version: 1.2.7\n  repository: https://x.example/stable\n";
    let loaded = load(&tgz(&[
        ("old/Chart.yaml", chart.as_bytes()),
        ("old/requirements.yaml", requirements.as_bytes()),
        ("old/requirements.lock", lock.as_bytes()),
    ]))
    .unwrap();
    assert_eq!(loaded.dependencies.len(), 1);
    assert_eq!(loaded.dependencies[0].name, "mysql");
    assert_eq!(loaded.dependencies[0].repository, "@stable");
    assert_eq!(loaded.dependencies[0].version, "1.2.7");
}

#[test]
fn vendored_subcharts_directories_and_archives() {
    let redis = tgz(&[
        ("redis/Chart.yaml", chart_yaml("redis", "19.0.0").as_bytes()),
        ("redis/values.yaml", b"image: {repository: redis}\n"),
        ("redis/templates/sts.yaml", b"kind: StatefulSet\n"),
        (
            "redis/charts/common/Chart.yaml",
            chart_yaml("common", "2.0.0").as_bytes(),
        ),
    ]);
    let parent = "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n\
                  - {name: redis, version: 19.0.0, repository: https://c.example, alias: cache}\n\
                  - {name: redis, version: 19.0.0, repository: https://c.example, alias: queue}\n\
                  - {name: common, version: 2.0.0, repository: https://c.example}\n\
                  - {name: postgresql, version: 15.x, repository: https://c.example}\n";
    let loaded = load(&tgz(&[
        ("app/Chart.yaml", parent.as_bytes()),
        ("app/charts/redis-19.0.0.tgz", &redis),
        (
            "app/charts/common/Chart.yaml",
            chart_yaml("common", "2.0.0").as_bytes(),
        ),
        (
            "app/charts/common/templates/_names.tpl",
            b"{{ define \"n\" }}{{ end }}",
        ),
        (
            "app/charts/extra/Chart.yaml",
            chart_yaml("extra", "0.1.0").as_bytes(),
        ),
        ("app/charts/_skipped/Chart.yaml", b"not: read"),
        ("app/charts/.hidden.tgz", b"not an archive"),
        ("app/charts/redis-19.0.0.tgz.prov", b"a signature"),
    ]))
    .unwrap();
    let scopes = loaded
        .subcharts
        .iter()
        .map(|s| (s.scope.as_str(), s.chart.name.as_str()))
        .collect::<Vec<_>>();
    assert_eq!(
        scopes,
        [
            ("common", "common"),
            ("extra", "extra"),
            ("cache", "redis"),
            ("queue", "redis")
        ]
    );
    let redis = &loaded.subcharts[2].chart;
    assert_eq!(redis.values["image"]["repository"], "redis");
    assert_eq!(redis.templates[0].0, "templates/sts.yaml");
    assert_eq!(redis.subcharts[0].scope, "common");
    assert_eq!(loaded.subcharts[0].chart.templates.len(), 1);
    let missing = loaded
        .missing_dependencies()
        .iter()
        .map(|d| d.name.as_str())
        .collect::<Vec<_>>();
    assert_eq!(missing, ["postgresql"]);
}

#[test]
fn errors_name_the_file() {
    let nested = tgz(&[("sub/Chart.yaml", b"name: sub\nversion: [1\n")]);
    let err = load(&tgz(&[
        ("app/Chart.yaml", chart_yaml("app", "1.0.0").as_bytes()),
        ("app/charts/sub-1.0.0.tgz", &nested),
    ]))
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("charts/sub-1.0.0.tgz/Chart.yaml: not valid YAML"),
        "{err}"
    );
    type Files<'a> = &'a [(&'a str, &'a [u8])];
    let cases: [(Files, &str); 6] = [
        (&[("app/values.yaml", b"a: 1\n")], "Chart.yaml: missing"),
        (
            &[("app/Chart.yaml", b"version: 1.0.0\n")],
            "Chart.yaml: no name",
        ),
        (
            &[("app/Chart.yaml", b"name: app\n")],
            "Chart.yaml: chart app has no version",
        ),
        (
            &[("app/Chart.yaml", b"- a list\n")],
            "Chart.yaml: not valid YAML",
        ),
        (
            &[
                ("app/Chart.yaml", b"name: a\nversion: 1.0.0\n"),
                ("app/values.yaml", b"- x\n"),
            ],
            "values.yaml: not a mapping",
        ),
        (
            &[(
                "app/Chart.yaml",
                b"name: a\nversion: 1.0.0\ndependencies:\n- version: 1.0.0\n",
            )],
            "Chart.yaml: dependency 1 has no name",
        ),
    ];
    for (files, message) in cases {
        let err = load(&tgz(files)).unwrap_err();
        assert!(err.to_string().starts_with(message), "{err} / {message}");
    }
    for bytes in [&b"plain text"[..], &gzip(b"not a tar archive, just text")] {
        let err = load(bytes).unwrap_err();
        assert!(matches!(err, ArchiveError::Format { .. }), "{err}");
    }
}

#[test]
fn unsafe_paths_are_refused() {
    let ok = chart_yaml("app", "1.0.0");
    for (path, reason) in [
        ("../evil.yaml", ".."),
        ("app/../../evil.yaml", ".."),
        ("app/templates/../../../etc/x", ".."),
        ("/etc/passwd", "absolute"),
        ("Chart.yaml", "not inside"),
    ] {
        let err = load(&tgz(&[("app/Chart.yaml", ok.as_bytes()), (path, b"x")])).unwrap_err();
        let ArchiveError::UnsafePath { file, .. } = &err else {
            panic!("{path}: {err}")
        };
        assert_eq!(file, path);
        assert!(err.to_string().contains(reason), "{err}");
    }
}

#[test]
fn sizes_entries_and_depth_are_bounded() {
    let small = Limits {
        bytes: 4096,
        entries: 10,
        depth: 2,
    };
    let yaml = chart_yaml("app", "1.0.0");
    let base: (&str, &[u8]) = ("app/Chart.yaml", yaml.as_bytes());
    // Content over the budget, however well it compresses.
    let big = vec![b'a'; 5000];
    let err = load_limited(&tgz(&[base, ("app/values.yaml", &big)]), small).unwrap_err();
    assert!(
        matches!(&err, ArchiveError::TooBig { file, limit: 4096 } if file == "app/values.yaml"),
        "{err}"
    );
    // A header claiming more than the budget, refused before reading it.
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_path("app/huge").unwrap();
    header.set_size(1 << 40);
    header.set_cksum();
    tar.append(&header, &b""[..]).unwrap();
    let err = load_limited(&gzip(&tar.into_inner().unwrap()), small).unwrap_err();
    assert!(matches!(err, ArchiveError::TooBig { .. }), "{err}");
    // Too many entries.
    let many = (0..11)
        .map(|i| format!("app/templates/t{i}.yaml"))
        .collect::<Vec<_>>();
    let files = many
        .iter()
        .map(|p| (p.as_str(), &b"x"[..]))
        .collect::<Vec<_>>();
    let err = load_limited(&tgz(&files), small).unwrap_err();
    assert!(
        matches!(err, ArchiveError::TooManyEntries { limit: 10, .. }),
        "{err}"
    );
    // Nested archives share the budget.
    let inner = tgz(&[
        ("sub/Chart.yaml", chart_yaml("sub", "1.0.0").as_bytes()),
        ("sub/v", &big[..3000]),
    ]);
    let err = load_limited(
        &tgz(&[
            base,
            ("app/charts/sub.tgz", &inner),
            ("app/pad", &big[..2000]),
        ]),
        small,
    )
    .unwrap_err();
    assert!(matches!(err, ArchiveError::TooBig { .. }), "{err}");
    // Subcharts nested deeper than the limit (the real one: 5).
    let mut nested = tgz(&[("c6/Chart.yaml", chart_yaml("c6", "1.0.0").as_bytes())]);
    for level in (0..6).rev() {
        let name = format!("c{level}");
        let chart = chart_yaml(&name, "1.0.0");
        let sub = format!("{name}/charts/c{}.tgz", level + 1);
        let chart_path = format!("{name}/Chart.yaml");
        nested = tgz(&[(&chart_path, chart.as_bytes()), (&sub, &nested)]);
        if level == 1 {
            // c1 has c2..c6 below it: five levels, allowed.
            let ok = load(&nested).unwrap();
            assert_eq!(ok.subcharts[0].chart.subcharts[0].chart.name, "c3");
        }
    }
    let err = load(&nested).unwrap_err();
    let ArchiveError::TooDeep { file, limit: 5 } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        file,
        "charts/c1.tgz/charts/c2.tgz/charts/c3.tgz/charts/c4.tgz/charts/c5.tgz/charts/c6.tgz"
    );
    // Directories count as deep as archives.
    let mut files = vec![];
    let mut prefix = String::from("d0/");
    let mut charts = vec![];
    for level in 0..7 {
        charts.push((
            format!("{prefix}Chart.yaml"),
            chart_yaml(&format!("d{level}"), "1.0.0"),
        ));
        prefix = format!("{prefix}charts/d{}/", level + 1);
    }
    for (path, chart) in &charts {
        files.push((path.as_str(), chart.as_bytes()));
    }
    let err = load(&tgz(&files)).unwrap_err();
    assert!(matches!(err, ArchiveError::TooDeep { .. }), "{err}");
}

#[test]
fn aliases_of_aliases_count_against_the_unpacked_budget() {
    // a → b → c → d, each vendoring the next under 10 aliases, d holding 1 MiB: 10³ copies
    // of that MiB if copies were free.
    let names = ["a", "b", "c", "d"];
    let big = "x".repeat(1 << 20);
    let mut owned: Vec<(String, Vec<u8>)> = Vec::new();
    let mut dir = String::new();
    for (level, name) in names.iter().enumerate() {
        dir.push_str(name);
        dir.push('/');
        let mut text = chart_yaml(name, "1.0.0");
        if let Some(next) = names.get(level + 1) {
            text.push_str("dependencies:\n");
            for i in 0..10 {
                text.push_str(&format!(
                    "  - {{name: {next}, version: 1.0.0, repository: \"\", alias: {next}{i}}}\n"
                ));
            }
        }
        owned.push((format!("{dir}Chart.yaml"), text.into_bytes()));
        if level + 1 < names.len() {
            dir.push_str("charts/");
        }
    }
    owned.push((format!("{dir}templates/big.yaml"), big.into_bytes()));
    let files: Vec<(&str, &[u8])> = owned
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_slice()))
        .collect();
    let err = load(&tgz(&files)).unwrap_err();
    assert!(matches!(err, ArchiveError::TooBig { .. }), "{err}");
    assert!(err.to_string().contains("alias"), "{err}");
}
