#!/usr/bin/env python3
"""Build deterministic container images as OCI layouts, for tests, the quick start and benchmarks.

Nothing is downloaded: every layer is a tar of seeded pseudo-random bytes, so the same
arguments always give the same digests. One OCI layout directory is written per image under
OUT; each line printed is `<layout dir> <repository>:<tag>`, ready for
`skopeo copy --all --preserve-digests oci:<layout dir> docker://HOST/<repository>:<tag>`.

Sets:
  test       alpha:1 and beta:1 (linux/amd64, sharing one base layer) and multi:1
             (an index of linux/amd64 + linux/arm64); small (a few hundred KiB).
  quickstart the test set, a little larger.
  bench      --count images (bench/appN:--tag, from N = --first) of --layer-mib each on
             top of a shared --base-mib base layer (linux/amd64), uncompressed layers so
             generation stays fast; --seed changes every image's own layer.
  variants   indexes whose entries differ by variant or Windows build (platform matching):
             variants/amd64:1 (linux/amd64/v2 listed before linux/amd64),
             variants/arm:1 (linux/arm/v6, linux/arm/v7), variants/v3only:1 (only
             linux/amd64/v3), variants/windows:1 (windows/amd64 for os.version
             10.0.17763.6189 and 10.0.20348.2655, and linux/amd64).
  charts     the images the test charts of scripts/testcharts.py deploy (team/web:1.0,
             team/sidecar:2.1, team/metrics:3.0, team/hook:5.0, team/tool:0.9,
             team/computed:1, team/cache:0.1.2, team/ocidemo:1, team/debug:9); tiny.
  kubernetes the control-plane images kubeadm pulls for --k8s-version (names as on
             registry.k8s.io, versions from --pause/--etcd/--coredns), each an index of
             linux/amd64 + linux/arm64; tiny layers.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


class Layout:
    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')

    def blob(self, data, media_type):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.path, "blobs", "sha256", digest), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}

    def finish(self, top):
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top]}, f)


def layer_bytes(seed, size, compress):
    rng = random.Random(seed)
    chunk = 64 << 20  # randbytes overflows past 2**31 bits: draw in chunks
    payload = b"".join(rng.randbytes(min(chunk, size - off)) for off in range(0, size, chunk))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("data/" + seed)
        info.size, info.mtime, info.mode = len(payload), 0, 0o644
        tar.addfile(info, io.BytesIO(payload))
    raw = buf.getvalue()
    if compress:
        return gzip.compress(raw, compresslevel=1, mtime=0), LAYER_GZIP
    return raw, LAYER_TAR


def image_manifest(layout, arch, layer_specs, compress, platform=None):
    layers, diff_ids = [], []
    for seed, size in layer_specs:
        data, media_type = layer_bytes(seed, size, compress)
        layers.append(layout.blob(data, media_type))
        raw = gzip.decompress(data) if compress else data
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config.update(platform or {})
    config_desc = layout.blob(json.dumps(config, sort_keys=True).encode(), OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc, "layers": layers}
    return layout.blob(json.dumps(manifest, sort_keys=True).encode(), OCI_MANIFEST)


def single(out, name, tag, arch, layer_specs, compress=True):
    path = os.path.join(out, name.replace("/", "_") + "_" + tag)
    layout = Layout(path)
    desc = image_manifest(layout, arch, layer_specs, compress)
    desc["annotations"] = {"org.opencontainers.image.ref.name": tag}
    layout.finish(desc)
    print(path, f"{name}:{tag}")


def multi(out, name, tag, arch_specs, compress=True):
    path = os.path.join(out, name.replace("/", "_") + "_" + tag)
    layout = Layout(path)
    entries = []
    for arch, layer_specs in arch_specs:
        desc = image_manifest(layout, arch, layer_specs, compress)
        desc["platform"] = {"architecture": arch, "os": "linux"}
        entries.append(desc)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    desc = layout.blob(json.dumps(index, sort_keys=True).encode(), OCI_INDEX)
    desc["annotations"] = {"org.opencontainers.image.ref.name": tag}
    layout.finish(desc)
    print(path, f"{name}:{tag}")


def platform_index(out, name, tag, entries):
    """An index of one manifest per (platform, layer seed), in the order given; each
    platform is an OCI platform object (os, architecture, variant, os.version), also
    written into the image's config."""
    path = os.path.join(out, name.replace("/", "_") + "_" + tag)
    layout = Layout(path)
    manifests = []
    for platform, seed in entries:
        desc = image_manifest(layout, platform["architecture"], [(seed, 4096)], True, platform)
        desc["platform"] = platform
        manifests.append(desc)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    desc = layout.blob(json.dumps(index, sort_keys=True).encode(), OCI_INDEX)
    desc["annotations"] = {"org.opencontainers.image.ref.name": tag}
    layout.finish(desc)
    print(path, f"{name}:{tag}")


def variants_set(out):
    def linux(arch, variant=None):
        return {"os": "linux", "architecture": arch, **({"variant": variant} if variant else {})}

    def windows(build):
        return {"os": "windows", "architecture": "amd64", "os.version": build}

    platform_index(out, "variants/amd64", "1", [
        (linux("amd64", "v2"), "amd64-v2"), (linux("amd64"), "amd64-plain"),
    ])
    platform_index(out, "variants/arm", "1", [
        (linux("arm", "v6"), "arm-v6"), (linux("arm", "v7"), "arm-v7"),
    ])
    platform_index(out, "variants/v3only", "1", [(linux("amd64", "v3"), "amd64-v3")])
    platform_index(out, "variants/windows", "1", [
        (windows("10.0.17763.6189"), "windows-ltsc2019"),
        (windows("10.0.20348.2655"), "windows-ltsc2022"),
        (linux("amd64"), "windows-set-linux"),
    ])


def small_set(out, kib):
    base = ("base", kib * 1024)
    single(out, "library/alpha", "1", "amd64", [base, ("alpha", kib * 512)])
    single(out, "team/beta", "1", "amd64", [base, ("beta", kib * 256)])
    multi(out, "library/multi", "1", [
        ("amd64", [base, ("multi-amd64", kib * 128)]),
        ("arm64", [("base-arm64", kib * 1024), ("multi-arm64", kib * 128)]),
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="directory to write the OCI layouts into")
    parser.add_argument("--set", choices=["test", "quickstart", "bench", "kubernetes", "variants", "charts"], default="test")
    parser.add_argument("--count", type=int, default=10, help="bench: number of images")
    parser.add_argument("--base-mib", type=int, default=100, help="bench: size of the shared base layer")
    parser.add_argument("--layer-mib", type=int, default=45, help="bench: size of each image's own layer")
    parser.add_argument("--seed", default="", help="bench: changes every image's own layer")
    parser.add_argument("--tag", default="1", help="bench: tag of every image")
    parser.add_argument("--first", type=int, default=0, help="bench: number of the first image")
    parser.add_argument("--k8s-version", default="v1.31.2", help="kubernetes: version of the kube-* images")
    parser.add_argument("--pause", default="3.10")
    parser.add_argument("--etcd", default="3.5.15-0")
    parser.add_argument("--coredns", default="v1.11.3")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.set == "test":
        small_set(args.out, 64)
    elif args.set == "quickstart":
        small_set(args.out, 2048)
    elif args.set == "variants":
        variants_set(args.out)
    elif args.set == "charts":
        for name, tag in [("web", "1.0"), ("sidecar", "2.1"), ("metrics", "3.0"), ("hook", "5.0"),
                          ("tool", "0.9"), ("computed", "1"), ("cache", "0.1.2"), ("ocidemo", "1"),
                          ("debug", "9")]:
            single(args.out, f"team/{name}", tag, "amd64", [(f"chart-{name}", 4 * 1024)])
    elif args.set == "kubernetes":
        images = [(f"kube-{c}", args.k8s_version) for c in ("apiserver", "controller-manager", "scheduler", "proxy")]
        images += [("pause", args.pause), ("etcd", args.etcd), ("coredns/coredns", args.coredns)]
        for name, tag in images:
            multi(args.out, name, tag, [
                (arch, [(f"{name}-{tag}-{arch}", 8 * 1024)]) for arch in ("amd64", "arm64")
            ])
    else:
        base = ("bench-base", args.base_mib << 20)
        for i in range(args.first, args.first + args.count):
            own = (f"bench-{args.seed}{i}", args.layer_mib << 20)
            single(args.out, f"bench/app{i}", args.tag, "amd64", [base, own], compress=False)


if __name__ == "__main__":
    main()
