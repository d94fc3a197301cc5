#!/usr/bin/env python3
"""Write an rpm-md repository the size of a distribution's BaseOS+AppStream, for
`scripts/bench.sh rpm`: OUTDIR/repodata/{repomd.xml, primary.xml.gz, filelists.xml.gz}.

Usage: rpm_corpus.py OUTDIR [--packages N] [--seed S]   (prints the requested names)

Deterministic (seeded). Shapes like a distribution's: `libNNNN` packages providing sonames
(`libNNNN.so.1()(64bit)`), applications requiring a handful of them with a power-law
preference for the common ones, `-devel` subpackages requiring their library by exact
version, noarch `-doc`/`-data` packages, two versions of some libraries, file dependencies
on /bin/sh (bash lists it in primary) and on a filelists-only path, a few virtual provides
with several providers, rich `(a or b)` and `(a if b)` dependencies, Obsoletes and
Conflicts. The .rpm files themselves are not written (resolution never reads them).
"""

import gzip
import hashlib
import os
import random
import sys
from xml.sax.saxutils import quoteattr, escape


def entry(name, flags=None, ver=None, rel=None, epoch="0"):
    if flags:
        return f'<rpm:entry name={quoteattr(name)} flags="{flags}" epoch="{epoch}" ver="{ver}" rel="{rel}"/>'
    return f"<rpm:entry name={quoteattr(name)}/>"


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    out = args[0]
    count = 32000
    seed = 18
    if "--packages" in args:
        count = int(args[args.index("--packages") + 1])
    if "--seed" in args:
        seed = int(args[args.index("--seed") + 1])
    rng = random.Random(seed)
    libs = count // 4
    apps = count - libs * 2 - 2
    packages = []

    def add(name, arch, ver, rel, provides=(), requires=(), files=(), conflicts=(), obsoletes=(), epoch="0"):
        packages.append((name, arch, ver, rel, epoch, list(provides), list(requires), list(files), list(conflicts), list(obsoletes)))

    add("bash", "x86_64", "5.2.26", "3.el9", files=["/bin/sh", "/usr/bin/bash"])
    add("glibc", "x86_64", "2.34", "100.el9", provides=[entry("libc.so.6()(64bit)"), entry("rtld(GNU_HASH)")], requires=[entry("/bin/sh")])
    for i in range(libs):
        name = f"lib{i:05d}"
        soname = f"{name}.so.1()(64bit)"
        deps = [entry("libc.so.6()(64bit)")]
        for _ in range(rng.randint(0, 3)):
            j = int(i * rng.random() ** 2)
            if j < i:
                deps.append(entry(f"lib{j:05d}.so.1()(64bit)"))
        versions = [("1.0", "1.el9")] + ([("1.1", "2.el9")] if i % 7 == 0 else [])
        for ver, rel in versions:
            add(name, "x86_64", ver, rel, provides=[entry(soname)], requires=deps,
                files=[f"/usr/lib64/{name}.so.1"])
        add(f"{name}-devel", "x86_64", versions[-1][0], versions[-1][1],
            requires=[entry(name, "EQ", versions[-1][0], versions[-1][1])],
            files=[f"/usr/include/{name}.h"])
    for v in range(20):
        add(f"provider-{v:02d}-a", "x86_64", "1", "1.el9", provides=[entry(f"virtual-{v:02d}")])
        add(f"provider-{v:02d}-b", "x86_64", "1", "1.el9", provides=[entry(f"virtual-{v:02d}")])
    add("helper-tools", "noarch", "1", "1.el9", files=["/usr/libexec/helper-tool"])
    n_apps = max(0, count - len(packages))
    for a in range(n_apps):
        name = f"app{a:05d}"
        if a % 5 == 4:
            add(name, "noarch", "3.0", "1.el9", requires=[entry(f"app{a - 1:05d}")] if a else [])
            continue
        requires = [entry("/bin/sh")]
        for _ in range(rng.randint(2, 8)):
            j = int(libs * rng.random() ** 3)
            requires.append(entry(f"lib{j:05d}.so.1()(64bit)"))
        if a % 11 == 0:
            requires.append(entry(f"virtual-{a % 20:02d}"))
        if a % 13 == 0:
            requires.append(entry(f"(lib{a % libs:05d} or lib{(a + 1) % libs:05d})"))
        if a % 17 == 0:
            requires.append(entry(f"(lib{a % libs:05d}-devel if app{(a + 1) % n_apps:05d})"))
        if a % 19 == 0:
            requires.append(entry("/usr/libexec/helper-tool"))
        if a % 23 == 0 and a:
            requires.append(entry(f"app{a - 1:05d}", "GE", "1", "1.el9"))
        obsoletes = [entry(f"old-{name}", "LT", "2", "1")] if a % 29 == 0 else []
        conflicts = [entry(f"app{(a + 3) % n_apps:05d}-legacy")] if a % 31 == 0 else []
        add(name, "x86_64", f"{1 + a % 4}.{a % 10}~rc{a % 3}" if a % 37 == 0 else f"{1 + a % 4}.{a % 10}", "1.el9",
            requires=requires, files=[f"/usr/bin/{name}"], obsoletes=obsoletes, conflicts=conflicts,
            epoch=str(a % 3) if a % 41 == 0 else "0")
    os.makedirs(os.path.join(out, "repodata"), exist_ok=True)
    primary = [f'<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="{len(packages)}">\n']
    filelists = [f'<?xml version="1.0" encoding="UTF-8"?>\n<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="{len(packages)}">\n']
    for (name, arch, ver, rel, epoch, provides, requires, files, conflicts, obsoletes) in packages:
        pkgid = hashlib.sha256(f"{name}-{epoch}:{ver}-{rel}.{arch}".encode()).hexdigest()
        href = f"Packages/{name[0]}/{name}-{ver}-{rel}.{arch}.rpm"
        own = entry(name, "EQ", ver, rel, epoch)
        primary_files = [f for f in files if f.startswith(("/bin/", "/usr/bin/", "/etc/"))]
        lists = "".join(
            f"<rpm:{tag}>{''.join(items)}</rpm:{tag}>"
            for tag, items in (("provides", [own] + provides), ("requires", requires), ("conflicts", conflicts), ("obsoletes", obsoletes))
            if items
        )
        primary.append(
            f'<package type="rpm"><name>{name}</name><arch>{arch}</arch><version epoch="{epoch}" ver="{escape(ver)}" rel="{rel}"/>'
            f'<checksum type="sha256" pkgid="YES">{pkgid}</checksum><summary>{name}</summary><description>{name}</description>'
            f'<packager>bench</packager><url/><time file="1700000000" build="1700000000"/>'
            f'<size package="{10000 + len(name) * 97}" installed="40000" archive="40500"/><location href="{href}"/>'
            f'<format><rpm:license>MIT</rpm:license><rpm:vendor/><rpm:group>Unspecified</rpm:group><rpm:buildhost>bench</rpm:buildhost>'
            f'<rpm:sourcerpm>{name}-{ver}-{rel}.src.rpm</rpm:sourcerpm><rpm:header-range start="4504" end="9000"/>'
            f"{lists}{''.join(f'<file>{f}</file>' for f in primary_files)}</format></package>\n"
        )
        filelists.append(
            f'<package pkgid="{pkgid}" name="{name}" arch="{arch}"><version epoch="{epoch}" ver="{escape(ver)}" rel="{rel}"/>'
            f"{''.join(f'<file>{f}</file>' for f in files)}</package>\n"
        )
    primary.append("</metadata>\n")
    filelists.append("</filelists>\n")
    data = []
    for kind, text in (("primary", "".join(primary)), ("filelists", "".join(filelists))):
        raw = text.encode()
        packed = gzip.compress(raw, 6, mtime=0)
        digest = hashlib.sha256(packed).hexdigest()
        location = f"repodata/{digest}-{kind}.xml.gz"
        with open(os.path.join(out, location), "wb") as f:
            f.write(packed)
        data.append(
            f'<data type="{kind}"><checksum type="sha256">{digest}</checksum>'
            f'<open-checksum type="sha256">{hashlib.sha256(raw).hexdigest()}</open-checksum>'
            f'<location href="{location}"/><timestamp>1700000000</timestamp>'
            f"<size>{len(packed)}</size><open-size>{len(raw)}</open-size></data>"
        )
    with open(os.path.join(out, "repodata", "repomd.xml"), "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">'
                f"<revision>1700000000</revision>{''.join(data)}</repomd>\n")
    wanted = [f"app{a:05d}" for a in range(n_apps - 1, max(0, n_apps - 400), -20)]
    print(" ".join(wanted + ["virtual-03", "/usr/libexec/helper-tool"]))
    print(f"{len(packages)} packages", file=sys.stderr)


if __name__ == "__main__":
    main()
