#!/usr/bin/env python3
"""Build the signed rpm-md test repositories outpost's RPM tests resolve against.

Usage: python3 scripts/testrpm.py OUTDIR [--unsigned NAME] [--repomd-key other]

Builds tiny packages with `rpmbuild` (a few small files each, `--target ARCH`), signs them
with a throwaway RSA key (`rpmsign --addsign`, gpg homedir in OUTDIR/gnupg), and writes one
repository per architecture with `createrepo_c`, its `repodata/repomd.xml` signed
(`gpg --detach-sign --armor` → `repomd.xml.asc`):

    OUTDIR/repo/x86_64/   OUTDIR/repo/aarch64/   (baseurl: OUTDIR/repo/$basearch/)
    OUTDIR/key.asc        the packager key (ASCII-armored public key)
    OUTDIR/other-key.asc  a second key that signs nothing unless --repomd-key other

The packages exercise: epochs (libfoo 1:1.0 beats 1.2~beta), tildes (tool 2.0~rc1 beats
1.9), a file dependency only filelists.xml satisfies (/usr/libexec/outpost-helper), a
rich dependency ((plugin-a or plugin-b)), a conditional one ((app-selinux if
selinux-policy)), a virtual provide (webserver: httpd-lite and nginx-lite), an obsoleted
package (oldtool → newtool), a conflict (left conflicts with right; only left is
requested), noarch packages, a per-architecture provider (cpu-x86 / cpu-arm), and an
unsatisfiable chain (broken → needs missing-lib >= 2).

--unsigned NAME leaves package NAME without a header signature; --repomd-key other signs
repomd.xml with the other key. The script prints the packager key's path on its last line.
Needs rpm (rpmbuild, rpmsign), createrepo-c and gnupg.
"""

import os
import shutil
import subprocess
import sys
import tempfile

ARCHES = ["x86_64", "aarch64"]

# name: (evr, arch ("noarch" or "any"), [tags]); "any" builds once per architecture.
PACKAGES = {
    "app": ("2:1.0-1", "any", [
        "Requires: libfoo >= 1.2",
        "Requires: /usr/libexec/outpost-helper",
        "Requires: (plugin-a or plugin-b)",
        "Requires: webserver",
        "Requires: cpu-support",
        "Requires: (app-selinux if selinux-policy)",
    ]),
    "libfoo": [("1:1.0-1", "any", []), ("1.2~beta-1", "any", []), ("1.1-1", "any", [])],
    "tool": [("2.0~rc1-1", "any", []), ("1.9-1", "any", [])],
    "helper": ("1.0-1", "noarch", []),
    "plugin-a": ("1.0-1", "noarch", []),
    "plugin-b": ("1.0-1", "noarch", []),
    "httpd-lite": ("2.4-1", "any", ["Provides: webserver"]),
    "nginx-lite": ("1.26-1", "any", ["Provides: webserver"]),
    "cpu-x86": ("1.0-1", "x86_64", ["Provides: cpu-support"]),
    "cpu-arm": ("1.0-1", "aarch64", ["Provides: cpu-support"]),
    "selinux-policy": ("38.1-1", "noarch", []),
    "app-selinux": ("1.0-1", "noarch", ["Requires: selinux-policy"]),
    "oldtool": ("1.0-1", "any", []),
    "newtool": ("2.0-1", "any", ["Obsoletes: oldtool < 2.0", "Provides: oldtool = 2.0"]),
    "left": ("1.0-1", "noarch", ["Conflicts: right"]),
    "right": ("1.0-1", "noarch", []),
    "broken": ("1.0-1", "noarch", ["Requires: middle"]),
    "middle": ("1.0-1", "noarch", ["Requires: missing-lib >= 2"]),
    "missing-lib": ("1.0-1", "noarch", []),
}

# Files each package carries besides its doc file (the helper's is not in primary.xml).
FILES = {"helper": ["/usr/libexec/outpost-helper"]}


def run(*args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def spec_text(name, evr, arch, tags):
    epoch, _, rest = evr.rpartition(":")
    version, release = rest.rsplit("-", 1)
    files = FILES.get(name, []) + [f"/usr/share/doc/{name}/README"]
    lines = [
        f"Name: {name}",
        f"Version: {version}",
        f"Release: {release}",
        f"Summary: outpost test package {name}",
        "License: MIT",
    ]
    if epoch:
        lines.append(f"Epoch: {epoch}")
    if arch == "noarch":
        lines.append("BuildArch: noarch")
    lines += tags
    lines += [
        "%global debug_package %{nil}",
        "%global _build_id_links none",
        "%global __strip /bin/true",
        "%description",
        f"{name} for outpost's RPM tests.",
        "%install",
    ]
    for path in files:
        lines.append(f"mkdir -p %{{buildroot}}{os.path.dirname(path)}")
        lines.append(f"echo {name} > %{{buildroot}}{path}")
    lines.append("%files")
    lines += files
    return "\n".join(lines) + "\n"


def make_key(home, uid):
    run("gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
        "--quick-gen-key", uid, "rsa2048", "sign", "never")
    return run("gpg", "--homedir", home, "--armor", "--export", uid)


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    out = os.path.abspath(args[0])
    unsigned = set()
    repomd_key = "packager"
    rest = args[1:]
    while rest:
        flag = rest.pop(0)
        if flag == "--unsigned" and rest:
            unsigned.add(rest.pop(0))
        elif flag == "--repomd-key" and rest:
            repomd_key = rest.pop(0)
        else:
            sys.exit(f"unknown argument {flag}\n{__doc__}")
    home = os.path.join(out, "gnupg")
    if os.path.isdir(home):
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], capture_output=True)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    os.makedirs(home, mode=0o700)
    packager = "outpost test packager <packager@outpost.invalid>"
    other = "outpost other key <other@outpost.invalid>"
    with open(os.path.join(out, "key.asc"), "w") as f:
        f.write(make_key(home, packager))
    with open(os.path.join(out, "other-key.asc"), "w") as f:
        f.write(make_key(home, other))
    with tempfile.TemporaryDirectory() as top:
        built = {arch: [] for arch in ARCHES}
        for name, versions in PACKAGES.items():
            if isinstance(versions, tuple):
                versions = [versions]
            for evr, arch, tags in versions:
                spec = os.path.join(top, f"{name}-{evr.replace(':', '_')}.spec")
                with open(spec, "w") as f:
                    f.write(spec_text(name, evr, arch, tags))
                targets = ARCHES if arch == "any" else [arch]
                for target in targets:
                    before = set(walk(os.path.join(top, "RPMS")))
                    run("rpmbuild", "-bb", "--target", target, "--define", f"_topdir {top}", spec)
                    new = sorted(set(walk(os.path.join(top, "RPMS"))) - before)
                    for rpm in new:
                        if name not in unsigned:
                            run("rpmsign", "--addsign", "--define", f"_gpg_name {packager}",
                                "--define", f"_gpg_path {home}",
                                "--define", f"__gpg {shutil.which('gpg')}",
                                "--define", "_gpg_sign_cmd_extra_args --batch --pinentry-mode loopback",
                                rpm)
                    for repo_arch in (ARCHES if target == "noarch" else [target]):
                        built[repo_arch] += new
        for arch in ARCHES:
            repo = os.path.join(out, "repo", arch)
            os.makedirs(os.path.join(repo, "Packages"))
            for rpm in sorted(set(built[arch])):
                shutil.copy(rpm, os.path.join(repo, "Packages"))
            run("createrepo_c", "--quiet", "--checksum", "sha256", repo)
            signer = packager if repomd_key == "packager" else other
            run("gpg", "--homedir", home, "--batch", "--yes", "--local-user", signer,
                "--detach-sign", "--armor", os.path.join(repo, "repodata", "repomd.xml"))
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], capture_output=True)
    print(os.path.join(out, "key.asc"))


def walk(root):
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.endswith(".rpm"):
                yield os.path.join(dirpath, name)


if __name__ == "__main__":
    main()
