#!/usr/bin/env python3
"""Build the Helm charts the tests pin, as a classic chart repository and as OCI chart files.

Nothing is downloaded and no helm binary is needed: each chart is a gzip tar with one top
directory `<name>/` holding Chart.yaml, values.yaml and templates/, as `helm package` writes
it. Writes:

  OUT/stable/index.yaml       the repository index (apiVersion v1, sha256 digests)
  OUT/stable/web-1.2.3.tgz    web 1.2.3, 1.2.7 and 1.3.0 (the constraint `1.2.*` takes 1.2.7)
  OUT/stable/cache-0.1.*.tgz  cache 0.1.0 and 0.1.2: web's dependency, not vendored
  OUT/stable/liar-1.0.0.tgz   a chart whose index digest is wrong
  OUT/stable/loop-*.tgz       loop-a and loop-b, each depending on the other
  OUT/oci/ocidemo-0.3.0.tgz   a chart to push as OCI (Chart.yaml as JSON in OUT/oci/ocidemo.json)

web 1.2.7 deploys images found in every way discovery knows: the artifacthub.io/images
annotation (team/tool:0.9), a string image in values (team/web:1.0), a
registry/repository/tag block (team/sidecar:2.1), a block whose registry
`global.imageRegistry` overrides (team/metrics:3.0 under docker.io in values.yaml), a hook
Job's literal image (team/hook:5.0), an image a template computes with `include`
(team/computed:1, which only `images.add` can bring), one to exclude (team/debug:9), and
its dependency's values (team/cache:0.1.2). Images are under `registry.test`.

With --sign GNUPGHOME, each web and cache chart gets a `.prov` clear-signed by that
keyring's default key (gpg), as `helm package --sign` writes it.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile

CREATED = "2026-01-02T03:04:05.000000000Z"


def tgz(name, files):
    """A chart archive: `files` maps paths under `<name>/` to text; deterministic bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            data = files[path].encode()
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(data)
            info.mtime = 1700000000
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def chart_yaml(name, version, app_version, extra=""):
    return (f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{app_version}\"\n"
            f"description: {name} for the outpost tests\ntype: application\n{extra}")


WEB_ANNOTATIONS = """annotations:
  artifacthub.io/images: |
    - name: tool
      image: registry.test/team/tool:0.9
dependencies:
  - name: cache
    version: "0.1.*"
    repository: https://charts.test/stable
"""

WEB_VALUES = """global:
  imageRegistry: ""
image: registry.test/team/web:1.0
sidecar:
  image:
    registry: registry.test
    repository: team/sidecar
    tag: "2.1"
metrics:
  image:
    registry: docker.io
    repository: team/metrics
    tag: "3.0"
debug:
  image:
    repository: registry.test/team/debug
    tag: "9"
cache:
  enabled: true
"""

WEB_TEMPLATES = {
    "templates/_helpers.tpl": '{{- define "web.computed" -}}\nregistry.test/team/{{ .Values.computedName | default "computed" }}:1\n{{- end -}}\n',
    "templates/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  template:
    spec:
      containers:
        - name: web
          image: "{{ .Values.image }}"
        - name: computed
          image: {{ include "web.computed" . }}
""",
    "templates/hooks/job-migrate.yaml": """apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    "helm.sh/hook": pre-install
spec:
  template:
    spec:
      containers:
        - name: migrate
          image: registry.test/team/hook:5.0
      restartPolicy: Never
""",
}


def web(version):
    files = {"Chart.yaml": chart_yaml("web", version, "1.0", WEB_ANNOTATIONS), "values.yaml": WEB_VALUES}
    files.update(WEB_TEMPLATES)
    return files


def cache(version):
    return {
        "Chart.yaml": chart_yaml("cache", version, "0.1.2"),
        "values.yaml": "image:\n  repository: registry.test/team/cache\n  tag: \"\"\n",
        "templates/statefulset.yaml": "kind: StatefulSet\nspec:\n  template:\n    spec:\n      containers:\n        - name: cache\n          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"\n",
    }


def provenance(chart_text, file_name, data, gnupghome):
    body = f"{chart_text}\n...\nfiles:\n  {file_name}: sha256:{hashlib.sha256(data).hexdigest()}\n"
    env = dict(os.environ, GNUPGHOME=gnupghome)
    return subprocess.run(["gpg", "--batch", "--yes", "--clearsign", "--digest-algo", "SHA256"],
                          input=body.encode(), env=env, check=True, capture_output=True).stdout


def entry(name, version, app_version, data, digest=None):
    digest = digest or hashlib.sha256(data).hexdigest()
    return (f"  - apiVersion: v2\n    appVersion: \"{app_version}\"\n    created: \"{CREATED}\"\n"
            f"    description: {name} for the outpost tests\n    digest: {digest}\n    name: {name}\n"
            f"    type: application\n    urls:\n    - {name}-{version}.tgz\n    version: {version}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--sign", metavar="GNUPGHOME", help="write .prov files signed with this keyring's key")
    args = parser.parse_args()
    stable = os.path.join(args.out, "stable")
    oci = os.path.join(args.out, "oci")
    os.makedirs(stable, exist_ok=True)
    os.makedirs(oci, exist_ok=True)
    entries = {}
    charts = [("web", v, "1.0", web(v)) for v in ("1.2.3", "1.2.7", "1.3.0")]
    charts += [("cache", v, "0.1.2", cache(v)) for v in ("0.1.0", "0.1.2")]
    for name, other in (("loop-a", "loop-b"), ("loop-b", "loop-a")):
        deps = f"dependencies:\n  - name: {other}\n    version: 1.0.0\n    repository: https://charts.test/stable\n"
        charts.append((name, "1.0.0", "1", {"Chart.yaml": chart_yaml(name, "1.0.0", "1", deps), "values.yaml": ""}))
    for name, version, app_version, files in charts:
        data = tgz(name, files)
        file_name = f"{name}-{version}.tgz"
        with open(os.path.join(stable, file_name), "wb") as f:
            f.write(data)
        if args.sign:
            with open(os.path.join(stable, file_name + ".prov"), "wb") as f:
                f.write(provenance(files["Chart.yaml"], file_name, data, args.sign))
        entries.setdefault(name, []).append(entry(name, version, app_version, data))
    liar = tgz("liar", {"Chart.yaml": chart_yaml("liar", "1.0.0", "1"), "values.yaml": ""})
    with open(os.path.join(stable, "liar-1.0.0.tgz"), "wb") as f:
        f.write(liar)
    entries["liar"] = [entry("liar", "1.0.0", "1", liar, digest=hashlib.sha256(b"other").hexdigest())]
    index = "apiVersion: v1\nentries:\n"
    for name in sorted(entries):
        index += f"  {name}:\n" + "".join(reversed(entries[name]))
    index += f"generated: \"{CREATED}\"\n"
    with open(os.path.join(stable, "index.yaml"), "w") as f:
        f.write(index)
    demo = {
        "Chart.yaml": chart_yaml("ocidemo", "0.3.0", "1"),
        "values.yaml": "image:\n  repository: registry.test/team/ocidemo\n  tag: \"1\"\n",
    }
    with open(os.path.join(oci, "ocidemo-0.3.0.tgz"), "wb") as f:
        f.write(tgz("ocidemo", demo))
    metadata = {"name": "ocidemo", "version": "0.3.0", "description": "ocidemo for the outpost tests",
                "apiVersion": "v2", "appVersion": "1", "type": "application"}
    with open(os.path.join(oci, "ocidemo.json"), "w") as f:
        json.dump(metadata, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
