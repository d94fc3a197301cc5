#!/usr/bin/env python3
"""Write a large, realistic Helm chart repository index.yaml (for benchmarks).

    scripts/gen_chart_index.py OUT [--charts N] [--versions M] [--repo-url URL]
                               [--chart NAME --chart-version V --digest HEX --url URL]

The layout is what `helm repo index` (and chartmuseum) write: sigs.k8s.io/yaml output, keys
sorted, two-space indents, sequences at their key's indentation, `apiVersion`, `entries:`
(chart name -> list of versions, highest first) and `generated:`. Every version carries the
fields the big public repositories fill: annotations (with a multi-line
`artifacthub.io/images` block), apiVersion, appVersion, created, dependencies, description,
digest, home, icon, keywords, maintainers, name, sources, urls, version. N charts x M versions
(defaults 300 x 60 = 18,000 versions, about 28 MB); deterministic for given arguments.

`--chart` adds (or replaces the versions of) one real chart whose entry points at a real
`.tgz` (`--url`, relative or absolute, and `--digest`), placed in the middle of the file, so
a benchmark resolves a chart it can actually download.
"""

import argparse
import hashlib
import random
import sys

WORDS = (
    "cloud native ingress controller operator metrics storage database cache proxy gateway "
    "observability logging tracing service mesh certificate secret backup scheduler queue "
    "stream search analytics dashboard identity policy network registry build pipeline"
).split()


def quote(s):
    """A scalar as sigs.k8s.io/yaml writes it: plain when safe, else double-quoted."""
    plain_unsafe = (
        s == ""
        or s[0] in "-?:,[]{}#&*!|>'\"%@` "
        or s[-1] == " "
        or ": " in s
        or " #" in s
        or s.lower() in ("true", "false", "yes", "no", "on", "off", "null", "~", "y", "n")
        or s.replace(".", "", 1).isdigit()
        or s[0].isdigit() and s.count(":") >= 2
    )
    if plain_unsafe:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def version_list(rng, count):
    major, minor, patch = rng.randint(0, 20), rng.randint(0, 30), rng.randint(0, 20)
    out, seen = [], set()
    while len(out) < count:
        version = f"{major}.{minor}.{patch}"
        if version not in seen:
            seen.add(version)
            out.append(version)
        step = rng.random()
        if step < 0.7 and patch > 0:
            patch -= 1
        elif step < 0.95 and minor > 0:
            minor -= 1
            patch = rng.randint(0, 15)
        elif major > 0:
            major -= 1
            minor, patch = rng.randint(0, 30), rng.randint(0, 15)
        else:
            major, minor, patch = rng.randint(21, 99), rng.randint(0, 30), rng.randint(0, 20)
    return out


def entry(rng, name, version, index, repo_url, url=None, digest=None):
    app = f"{rng.randint(0, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 20)}"
    day = 1 + index % 28
    created = f"2024-{1 + index % 12:02d}-{day:02d}T{index % 24:02d}:{index % 60:02d}:07.123456789Z"
    words = [rng.choice(WORDS) for _ in range(rng.randint(14, 30))]
    description = " ".join(words).capitalize() + "."
    digest = digest or hashlib.sha256(f"{name}-{version}".encode()).hexdigest()
    url = url or f"{repo_url}/{name}-{version}.tgz"
    lines = ["  - annotations:"]
    lines.append("      artifacthub.io/images: |")
    for image in (name, f"{name}-exporter", "os-shell"):
        lines.append(f"        - name: {image}")
        lines.append(f"          image: docker.io/example/{image}:{app}-debian-12-r{index % 50}")
    lines.append("      artifacthub.io/license: Apache-2.0")
    lines.append(f"      category: {rng.choice(['Infrastructure', 'Database', 'Analytics'])}")
    lines.append("      licenses: Apache-2.0")
    lines.append("    apiVersion: v2")
    lines.append(f"    appVersion: {quote(app)}")
    lines.append(f'    created: "{created}"')
    lines.append("    dependencies:")
    lines.append("    - name: common")
    lines.append("      repository: oci://registry.example.com/charts")
    lines.append("      tags:")
    lines.append("      - common-lib")
    lines.append("      version: 2.x.x")
    if rng.random() < 0.4:
        lines.append("    - condition: redis.enabled")
        lines.append("      name: redis")
        lines.append("      repository: oci://registry.example.com/charts")
        lines.append(f"      version: {rng.randint(17, 20)}.x.x")
    lines.append(f"    description: {quote(description)}")
    lines.append(f"    digest: {digest}")
    lines.append(f"    home: https://example.com/{name}")
    lines.append(f"    icon: https://example.com/assets/stacks/{name}/img/{name}-stack-220x234.png")
    lines.append("    keywords:")
    for word in sorted(set(rng.choice(WORDS) for _ in range(4))):
        lines.append(f"    - {word}")
    lines.append("    maintainers:")
    lines.append("    - name: Example Maintainers")
    lines.append("      url: https://github.com/example/charts")
    lines.append(f"    name: {name}")
    lines.append("    sources:")
    lines.append(f"    - https://github.com/example/charts/tree/main/example/{name}")
    lines.append(f"    - https://github.com/example/containers/tree/main/example/{name}")
    lines.append("    urls:")
    lines.append(f"    - {url}")
    lines.append(f"    version: {quote(version)}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--charts", type=int, default=300)
    parser.add_argument("--versions", type=int, default=60)
    parser.add_argument("--repo-url", default="https://charts.example.com/stable")
    parser.add_argument("--chart", help="a real chart to include (name)")
    parser.add_argument("--chart-version", action="append", default=[])
    parser.add_argument("--digest", action="append", default=[])
    parser.add_argument("--url", action="append", default=[])
    args = parser.parse_args()
    if args.chart and not (len(args.chart_version) == len(args.digest) == len(args.url) >= 1):
        sys.exit("--chart needs one --digest and --url per --chart-version")

    rng = random.Random(13)
    names = sorted({f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i}" for i in range(args.charts)})
    real = None
    if args.chart:
        real = args.chart
        names = sorted(set(names[: len(names) // 2]) | {real} | set(names[len(names) // 2 :]))
    out = sys.stdout if args.out == "-" else open(args.out, "w")
    with out:
        out.write("apiVersion: v1\nentries:\n")
        index = 0
        for name in names:
            out.write(f"  {name}:\n")
            if name == real:
                for version, digest, url in zip(args.chart_version, args.digest, args.url):
                    out.write(entry(rng, name, version, index, args.repo_url, url, digest))
                    index += 1
                continue
            for version in version_list(rng, args.versions):
                out.write(entry(rng, name, version, index, args.repo_url))
                index += 1
        out.write('generated: "2024-11-09T10:04:10.123456789Z"\n')
    return 0


if __name__ == "__main__":
    sys.exit(main())
