use super::*;
use serde_json::json;

fn chart_root() -> Value {
    root(
        &json!({
            "image": {"registry": "docker.io", "repository": "bitnami/redis", "tag": "", "n": 7},
            "name": "  Web  ",
            "float": 1.16,
            "list": [1, 2],
        }),
        &json!({"apiVersion": "v2", "name": "redis", "version": "1.2.3", "appVersion": "7.2"}),
    )
}

fn ok(text: &str) -> String {
    render(text, &chart_root(), Dot::Root).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> Unevaluable {
    render(text, &chart_root(), Dot::Root).unwrap_err()
}

#[test]
fn the_root_has_helm_field_names() {
    let root = chart_root();
    assert_eq!(root["Chart"]["Name"], "redis");
    assert_eq!(root["Chart"]["Version"], "1.2.3");
    assert_eq!(root["Chart"]["AppVersion"], "7.2");
    assert_eq!(root["Chart"]["APIVersion"], "v2");
    assert_eq!(root["Release"]["Name"], "release");
    assert_eq!(root["Values"]["image"]["repository"], "bitnami/redis");
}

#[test]
fn field_paths_and_text_around_actions() {
    assert_eq!(ok("plain nginx:1.27"), "plain nginx:1.27");
    assert_eq!(ok("ñ{{ \"é}}\" }}ü"), "ñé}}ü");
    assert_eq!(
        ok("{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Chart.AppVersion }}"),
        "docker.io/bitnami/redis:7.2"
    );
    assert_eq!(ok("{{ $.Values.image.repository }}"), "bitnami/redis");
    assert_eq!(ok("{{ .Release.Name }}-x"), "release-x");
    assert_eq!(ok("{{ .Values.image.n }}"), "7");
    assert_eq!(ok("{{ .Values.float }}"), "1.16");
    // Missing values print as nothing, as Helm renders them.
    assert_eq!(ok("a{{ .Values.missing.deeper }}b"), "ab");
    assert_eq!(err("{{ .Values.image }}"), Unevaluable::NotText);
    assert_eq!(err("{{ . }}"), Unevaluable::NotText);
}

#[test]
fn trimming_and_comments() {
    assert_eq!(ok("a  {{- \"b\" -}}  c"), "abc");
    assert_eq!(ok("a {{- /* note */ -}} c"), "ac");
    assert_eq!(ok("a {{/* note */}} c"), "a  c");
    // `{{-3}}` is a number, not a trim marker.
    assert_eq!(ok("a {{-3}}"), "a -3");
}

#[test]
fn pipelines_and_functions() {
    assert_eq!(
        ok("{{ .Values.image.tag | default .Chart.AppVersion }}"),
        "7.2"
    );
    assert_eq!(
        ok("{{ .Values.image.repository | default \"x\" }}"),
        "bitnami/redis"
    );
    assert_eq!(ok("{{ default \"x\" .Values.nothing }}"), "x");
    assert_eq!(
        ok("{{ .Values.image.repository | quote }}"),
        "\"bitnami/redis\""
    );
    assert_eq!(
        ok("{{ squote .Values.image.repository }}"),
        "'bitnami/redis'"
    );
    assert_eq!(ok("{{ .Values.name | trim | lower }}"), "web");
    assert_eq!(ok("{{ upper `raw` }}"), "RAW");
    assert_eq!(ok("{{ toString .Values.image.n }}"), "7");
    assert_eq!(
        ok("{{ trimPrefix \"bitnami/\" .Values.image.repository }}"),
        "redis"
    );
    assert_eq!(
        ok("{{ .Values.image.repository | trimSuffix \"/redis\" }}"),
        "bitnami"
    );
    assert_eq!(
        ok("{{ required \"need it\" .Values.image.repository }}"),
        "bitnami/redis"
    );
    assert_eq!(
        err("{{ required \"need it\" .Values.image.tag }}"),
        Unevaluable::Required("need it".into())
    );
    assert_eq!(ok("{{ print \"a\" 1 2 \"b\" }}"), "a1 2b");
    assert_eq!(
        ok("{{ printf \"%s:%s\" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}"),
        "bitnami/redis:7.2"
    );
    assert_eq!(ok("{{ printf \"%s/%v-%d%%\" \"a\" true 3 }}"), "a/true-3%");
}

#[test]
fn what_is_not_evaluated() {
    for (text, expected) in [
        (
            "{{ include \"x.image\" . }}",
            Unevaluable::Function("include".into()),
        ),
        ("{{ tpl .Values.x . }}", Unevaluable::Function("tpl".into())),
        (
            "{{ .Values.x | toYaml }}",
            Unevaluable::Function("toYaml".into()),
        ),
        (
            "{{ template \"x\" . }}",
            Unevaluable::Control("template".into()),
        ),
        (
            "{{ if .Values.x }}a{{ end }}",
            Unevaluable::Control("if".into()),
        ),
        (
            "{{ range .Values.list }}{{ . }}{{ end }}",
            Unevaluable::Control("range".into()),
        ),
        ("{{ $img }}", Unevaluable::Variable("$img".into())),
        (
            "{{ printf \"%05d\" 3 }}",
            Unevaluable::Function("printf \"%05d\"".into()),
        ),
        (
            "{{ printf \"%s:%s\" \"a\" .Values.missing }}",
            Unevaluable::Function("printf \"%s:%s\"".into()),
        ),
        (
            "{{ printf \"%s\" \"a\" \"b\" }}",
            Unevaluable::Function("printf \"%s\"".into()),
        ),
    ] {
        assert_eq!(err(text), expected, "{text}");
    }
    assert!(matches!(err("{{ $x := 1 }}"), Unevaluable::Variable(_)));
    assert!(matches!(err("{{ .Values.x"), Unevaluable::Syntax(_)));
    assert!(matches!(err("{{ \"open }}"), Unevaluable::Syntax(_)));
    assert!(matches!(err("{{ (\"a\" }}"), Unevaluable::Syntax(_)));
    assert!(matches!(err("{{ \"a\" \"b\" }}"), Unevaluable::Syntax(_)));
    assert!(matches!(err("{{ }}"), Unevaluable::Syntax(_)));
    let deep = format!("{{{{ {}\"a\"{} }}}}", "(".repeat(100), ")".repeat(100));
    assert!(matches!(err(&deep), Unevaluable::Syntax(_)));
}

#[test]
fn dot_outside_the_root() {
    let root = chart_root();
    assert_eq!(
        render("{{ .repository }}", &root, Dot::Rebound),
        Err(Unevaluable::Dot)
    );
    assert_eq!(
        render("{{ $.Values.image.repository }}", &root, Dot::Rebound).unwrap(),
        "bitnami/redis"
    );
    assert_eq!(
        render("{{ $.Values.image.repository }}", &root, Dot::Unknown),
        Err(Unevaluable::Dot)
    );
    assert_eq!(render("{{ \"lit\" }}", &root, Dot::Unknown).unwrap(), "lit");
}

#[test]
fn actions_are_found_in_order_with_strings_respected() {
    let text = "a {{- if .x }}b{{ \"}}\" }}{{/* c }} */}}\n{{ end -}}";
    let found: Vec<_> = actions(text).collect::<Result<_, _>>().unwrap();
    let bodies: Vec<_> = found.iter().map(|a| a.body).collect();
    assert_eq!(bodies, ["if .x", "\"}}\"", "/* c }} */", "end"]);
    assert!(found[0].trim_left && !found[0].trim_right);
    assert!(found[2].comment);
    assert!(found[3].trim_right);
    assert_eq!(&text[found[1].start..found[1].end], "{{ \"}}\" }}");
    let mut open = actions("x {{ .a }} {{ .b ");
    assert!(open.next().unwrap().is_ok());
    assert!(open.next().unwrap().is_err());
    assert!(open.next().is_none());
}
