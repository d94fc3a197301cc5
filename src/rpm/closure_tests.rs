use super::*;
use crate::rpm::primary::Package;
use crate::rpm::version::Evr;

/// `name-evr.arch` with dependencies written `requires: [..]` etc.
fn pkg(nevra: &str, arch: &str) -> Package {
    let (name, evr) = nevra.split_once(' ').unwrap();
    Package {
        name: name.into(),
        arch: arch.into(),
        evr: Evr::parse(evr).unwrap(),
        location: format!("{name}.rpm"),
        ..Package::default()
    }
}

fn req(text: &str) -> Req {
    Req::parse(text).unwrap()
}

fn with(mut p: Package, f: impl FnOnce(&mut Package)) -> Package {
    f(&mut p);
    p
}

fn names(universe: &Universe, request: &Request) -> Vec<String> {
    let mut out: Vec<String> = closure(universe, request)
        .unwrap()
        .into_iter()
        .map(|c| universe.package(c.index).nevra())
        .collect();
    out.sort();
    out
}

fn request(packages: &[&str]) -> Request {
    Request {
        packages: packages.iter().map(|s| s.to_string()).collect(),
        ..Request::default()
    }
}

#[test]
fn requires_provides_and_files_are_followed_and_the_highest_evr_wins() {
    let universe = Universe::new(
        vec![
            with(pkg("app 1.0-1", "x86_64"), |p| {
                p.requires = vec![req("lib >= 2"), req("/usr/bin/tool"), req("webserver")];
            }),
            pkg("lib 1:1.0-1", "x86_64"),
            pkg("lib 2.5-1", "x86_64"),
            pkg("lib 1:0.9-1", "aarch64"),
            with(pkg("tools 3-1", "noarch"), |p| {
                p.files = vec!["/usr/bin/tool".into()]
            }),
            with(pkg("nginx 1-1", "x86_64"), |p| {
                p.provides = vec![Dep::name("webserver")]
            }),
            with(pkg("httpd 1-1", "x86_64"), |p| {
                p.provides = vec![Dep::name("webserver")]
            }),
        ],
        "x86_64",
    );
    assert_eq!(
        names(&universe, &request(&["app"])),
        [
            "app-1.0-1.x86_64",
            "httpd-1-1.x86_64",
            "lib-1:1.0-1.x86_64",
            "tools-3-1.noarch"
        ]
    );
    let chosen = closure(&universe, &request(&["app"])).unwrap();
    let lib = chosen
        .iter()
        .find(|c| universe.package(c.index).name == "lib")
        .unwrap();
    assert_eq!(lib.why, "needed by app-1.0-1.x86_64 (requires lib >= 2)");
}

#[test]
fn tilde_versions_sort_before_the_release_and_ranges_apply() {
    let universe = Universe::new(
        vec![
            pkg("tool 2.0~rc1-1", "x86_64"),
            pkg("tool 1.9-1", "x86_64"),
            with(pkg("user 1-1", "x86_64"), |p| {
                p.requires = vec![req("tool < 2.0")]
            }),
        ],
        "x86_64",
    );
    assert_eq!(
        names(&universe, &request(&["tool"])),
        ["tool-2.0~rc1-1.x86_64"]
    );
    assert_eq!(
        closure(&universe, &request(&["tool >= 2.0"])).unwrap_err(),
        ClosureError::Unknown("tool >= 2.0".into())
    );
    assert_eq!(
        names(&universe, &request(&["user"])),
        ["tool-2.0~rc1-1.x86_64", "user-1-1.x86_64"]
    );
}

#[test]
fn conditional_rich_dependencies_follow_the_whole_selection() {
    let universe = Universe::new(
        vec![
            with(pkg("a 1-1", "noarch"), |p| {
                p.requires = vec![req("(a-plugin if b)")]
            }),
            pkg("a-plugin 1-1", "noarch"),
            with(pkg("b 1-1", "noarch"), |p| {
                p.requires = vec![req("(x or y)")]
            }),
            pkg("x 1-1", "noarch"),
            pkg("y 2-1", "noarch"),
        ],
        "x86_64",
    );
    assert_eq!(names(&universe, &request(&["a"])), ["a-1-1.noarch"]);
    assert_eq!(
        names(&universe, &request(&["a", "b"])),
        [
            "a-1-1.noarch",
            "a-plugin-1-1.noarch",
            "b-1-1.noarch",
            "x-1-1.noarch"
        ]
    );
    // Already selected wins over the first name.
    assert_eq!(
        names(&universe, &request(&["b", "y"])),
        ["b-1-1.noarch", "y-2-1.noarch"]
    );
}

#[test]
fn an_obsoleted_request_is_replaced_and_conflicts_are_named() {
    let universe = Universe::new(
        vec![
            pkg("old 1-1", "x86_64"),
            with(pkg("new 2-1", "x86_64"), |p| {
                p.obsoletes = vec![Dep::parse("old < 2").unwrap()];
                p.provides = vec![Dep::parse("old = 2").unwrap()];
            }),
            with(pkg("left 1-1", "x86_64"), |p| {
                p.conflicts = vec![req("right")]
            }),
            pkg("right 1-1", "x86_64"),
        ],
        "x86_64",
    );
    assert_eq!(names(&universe, &request(&["old"])), ["new-2-1.x86_64"]);
    let chosen = closure(&universe, &request(&["old"])).unwrap();
    assert_eq!(chosen[0].why, "requested as old, which it obsoletes");
    let error = closure(&universe, &request(&["left", "right"])).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("left-1-1.x86_64 conflicts with right-1-1.x86_64"),
        "{text}"
    );
}

#[test]
fn unsatisfiable_requirements_fail_with_the_chain() {
    let universe = Universe::new(
        vec![
            with(pkg("a 1-1", "x86_64"), |p| p.requires = vec![req("c")]),
            with(pkg("c 1-1", "x86_64"), |p| p.requires = vec![req("b >= 2")]),
            pkg("b 1-1", "x86_64"),
            pkg("only-arm 1-1", "aarch64"),
        ],
        "x86_64",
    );
    let error = closure(&universe, &request(&["a"])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "a-1-1.x86_64 (requested) → needs c → c-1-1.x86_64 → needs b >= 2 → nothing provides it"
    );
    assert_eq!(
        closure(&universe, &request(&["only-arm"])).unwrap_err(),
        ClosureError::Unknown("only-arm".into())
    );
    assert!(!error.is_file());
}

#[test]
fn weak_dependencies_and_assumed_packages() {
    let universe = Universe::new(
        vec![
            with(pkg("a 1-1", "x86_64"), |p| {
                p.requires = vec![req("glibc"), req("/bin/sh")];
                p.recommends = vec![req("docs"), req("missing")];
            }),
            pkg("docs 1-1", "noarch"),
            with(pkg("glibc 2-1", "x86_64"), |p| {
                p.requires = vec![req("rpmlib(CompressedFileNames) <= 3.0.4-1")]
            }),
            with(pkg("bash 5-1", "x86_64"), |p| {
                p.files = vec!["/bin/sh".into()]
            }),
        ],
        "x86_64",
    );
    let mut r = request(&["a"]);
    r.assume_installed = vec!["bash".into(), "glibc".into()];
    assert_eq!(names(&universe, &r), ["a-1-1.x86_64"]);
    r.weakdeps = true;
    assert_eq!(names(&universe, &r), ["a-1-1.x86_64", "docs-1-1.noarch"]);
}

#[test]
fn unless_else_with_and_without_choose_the_right_package() {
    let universe = Universe::new(
        vec![
            with(pkg("a 1-1", "noarch"), |p| {
                p.requires = vec![
                    req("(fast unless slow else slow-addon)"),
                    req("(kmod with kmod(x86))"),
                    req("(daemon without daemon-legacy)"),
                ];
            }),
            pkg("fast 1-1", "noarch"),
            pkg("slow 1-1", "noarch"),
            pkg("slow-addon 1-1", "noarch"),
            with(pkg("kmod-generic 1-1", "x86_64"), |p| {
                p.provides = vec![Dep::name("kmod")]
            }),
            with(pkg("kmod-x86 1-1", "x86_64"), |p| {
                p.provides = vec![Dep::name("kmod"), Dep::name("kmod(x86)")]
            }),
            with(pkg("daemon-a 1-1", "x86_64"), |p| {
                p.provides = vec![Dep::name("daemon"), Dep::name("daemon-legacy")]
            }),
            with(pkg("daemon-b 1-1", "x86_64"), |p| {
                p.provides = vec![Dep::name("daemon")]
            }),
        ],
        "x86_64",
    );
    assert_eq!(
        names(&universe, &request(&["a"])),
        [
            "a-1-1.noarch",
            "daemon-b-1-1.x86_64",
            "fast-1-1.noarch",
            "kmod-x86-1-1.x86_64"
        ]
    );
    assert_eq!(
        names(&universe, &request(&["a", "slow"])),
        [
            "a-1-1.noarch",
            "daemon-b-1-1.x86_64",
            "kmod-x86-1-1.x86_64",
            "slow-1-1.noarch",
            "slow-addon-1-1.noarch"
        ]
    );
}
