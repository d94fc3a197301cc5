#!/usr/bin/env python3
"""Writes the scale benchmark's corpus straight into a CNCF distribution (`docker-registry`)
filesystem storage root (pushing thousands of images one by one takes minutes):

  - COUNT tiny single-platform images `scale/app<i>:1` (one shared layer, a config each);
  - `scale/big:1`, one layer of BIG_GIB GiB;
  - `scale/fill<j>:1`, layers of at most FILL_GIB GiB each, until the layers of big and
    fill add up to TOTAL_GIB GiB.

Layer bytes are deterministic (a seeded 1 MiB block, each MiB stamped with seed and number,
so no two MiB are equal). Without --generated they are written into the storage root, hashed
as they are written; with --generated SPEC the big and fill images are not stored at all:
their digests are computed (one pass per layer, layers spread over the cores) and SPEC
describes them for scripts/bench/blobserve.py, which makes the bytes up as it sends them.
Prints one full reference per line: `registry.test/…` for the storage root's images,
`generated.test/…` for SPEC's.

  scripts/bench/scale_corpus.py ROOT --count 5000 --total-gib 30 --big-gib 10 [--generated SPEC]
"""
import argparse
import hashlib
import json
import multiprocessing
import os
import random

MIB = 1 << 20


def blob_path(root, hexd):
    return os.path.join(root, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")


def put_blob(root, data):
    hexd = hashlib.sha256(data).hexdigest()
    path = blob_path(root, hexd)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return hexd


def seeded_block(seed):
    """The 1 MiB block a generated layer repeats (stamped per MiB by generated_blocks)."""
    return bytearray(random.Random(seed).randbytes(MIB))


def generated_blocks(mib, seed):
    """The layer's bytes, one 1 MiB block at a time (the same buffer, restamped)."""
    block = seeded_block(seed)
    for i in range(mib):
        block[:16] = seed.to_bytes(8, "little") + i.to_bytes(8, "little")
        yield block


def hash_generated(args):
    mib, seed = args
    digest = hashlib.sha256()
    for block in generated_blocks(mib, seed):
        digest.update(block)
    return digest.hexdigest()


def put_generated(root, mib, seed):
    """A layer of `mib` MiB of deterministic bytes, written and hashed in one pass."""
    tmp = os.path.join(root, f"gen-{seed}.tmp")
    os.makedirs(root, exist_ok=True)
    digest = hashlib.sha256()
    with open(tmp, "wb") as f:
        for block in generated_blocks(mib, seed):
            digest.update(block)
            f.write(block)
    hexd = digest.hexdigest()
    path = blob_path(root, hexd)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.replace(tmp, path)
    return hexd, mib * MIB


def link(path, hexd):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "link"), "w") as f:
        f.write("sha256:" + hexd)


def image_bytes(layers, label):
    """Config and manifest of an image over `layers` [(hex, size)]."""
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"n": label}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + h for h, _ in layers]},
    }, sort_keys=True).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + config_hex, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": "sha256:" + h, "size": s} for h, s in layers],
    }, sort_keys=True).encode()
    return config, manifest


def image(root, name, layers, label):
    """Writes config and manifest of `name`:1 over `layers` [(hex, size)]."""
    config, manifest = image_bytes(layers, label)
    config_hex = put_blob(root, config)
    manifest_hex = put_blob(root, manifest)
    repo = os.path.join(root, "docker/registry/v2/repositories", name)
    for h, _ in layers:
        link(os.path.join(repo, "_layers/sha256", h), h)
    link(os.path.join(repo, "_layers/sha256", config_hex), config_hex)
    link(os.path.join(repo, "_manifests/revisions/sha256", manifest_hex), manifest_hex)
    link(os.path.join(repo, "_manifests/tags/1/current"), manifest_hex)
    link(os.path.join(repo, "_manifests/tags/1/index/sha256", manifest_hex), manifest_hex)
    print(f"registry.test/{name}:1", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--total-gib", type=float, default=0)
    parser.add_argument("--big-gib", type=float, default=0)
    parser.add_argument("--fill-gib", type=float, default=1)
    parser.add_argument("--generated", metavar="SPEC")
    args = parser.parse_args()
    tiny = b"outpost scale bench\n"
    tiny_layer = (put_blob(args.root, tiny), len(tiny))
    for i in range(args.count):
        image(args.root, f"scale/app{i}", [tiny_layer], str(i))
    big_mib = int(args.big_gib * 1024)
    layers = [("scale/big", "big", big_mib, 1)] if big_mib > 0 else []
    left = int(args.total_gib * 1024) - big_mib
    j = 0
    while left > 0:
        mib = min(left, max(1, int(args.fill_gib * 1024)))
        layers.append((f"scale/fill{j}", f"fill{j}", mib, 100 + j))
        left -= mib
        j += 1
    if args.generated is None:
        for name, label, mib, seed in layers:
            image(args.root, name, [put_generated(args.root, mib, seed)], label)
        return
    with multiprocessing.Pool() as pool:
        digests = pool.map(hash_generated, [(mib, seed) for _, _, mib, seed in layers])
    spec = {}
    for (name, label, mib, seed), hexd in zip(layers, digests):
        config, manifest = image_bytes([(hexd, mib * MIB)], label)
        spec[name] = {
            "manifest": manifest.decode(), "config": config.decode(),
            "manifest_digest": "sha256:" + hashlib.sha256(manifest).hexdigest(),
            "config_digest": "sha256:" + hashlib.sha256(config).hexdigest(),
            "layers": [{"seed": seed, "mib": mib, "digest": "sha256:" + hexd}],
        }
        print(f"generated.test/{name}:1", flush=True)
    with open(args.generated, "w") as f:
        json.dump(spec, f)

if __name__ == "__main__":
    main()
