#!/usr/bin/env python3
"""Writes the scale benchmark's corpus straight into a CNCF distribution (`docker-registry`)
filesystem storage root (pushing thousands of images one by one takes minutes):

  - COUNT tiny single-platform images `scale/app<i>:1` (one shared layer, a config each);
  - `scale/big:1`, one layer of BIG_GIB GiB;
  - `scale/fill<j>:1`, layers of at most FILL_GIB GiB each, until the layers of big and
    fill add up to TOTAL_GIB GiB.

Layer bytes are deterministic (a seeded 1 MiB block, each MiB stamped with its number, so
no two MiB are equal) and written once, hashed as they are written. Prints one reference
per line.

  scripts/bench/scale_corpus.py ROOT --count 5000 --total-gib 30 --big-gib 10
"""
import argparse
import hashlib
import json
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


def put_generated(root, mib, seed):
    """A layer of `mib` MiB of deterministic bytes, written and hashed in one pass."""
    block = bytearray(random.Random(seed).randbytes(MIB))
    tmp = os.path.join(root, f"gen-{seed}.tmp")
    os.makedirs(root, exist_ok=True)
    digest = hashlib.sha256()
    with open(tmp, "wb") as f:
        for i in range(mib):
            block[:16] = seed.to_bytes(8, "little") + i.to_bytes(8, "little")
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


def image(root, name, layers, label):
    """Writes config and manifest of `name`:1 over `layers` [(hex, size)]."""
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"n": label}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + h for h, _ in layers]},
    }, sort_keys=True).encode()
    config_hex = put_blob(root, config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + config_hex, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": "sha256:" + h, "size": s} for h, s in layers],
    }, sort_keys=True).encode()
    manifest_hex = put_blob(root, manifest)
    repo = os.path.join(root, "docker/registry/v2/repositories", name)
    for h, _ in layers:
        link(os.path.join(repo, "_layers/sha256", h), h)
    link(os.path.join(repo, "_layers/sha256", config_hex), config_hex)
    link(os.path.join(repo, "_manifests/revisions/sha256", manifest_hex), manifest_hex)
    link(os.path.join(repo, "_manifests/tags/1/current"), manifest_hex)
    link(os.path.join(repo, "_manifests/tags/1/index/sha256", manifest_hex), manifest_hex)
    print(f"{name}:1", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--total-gib", type=float, default=0)
    parser.add_argument("--big-gib", type=float, default=0)
    parser.add_argument("--fill-gib", type=float, default=1)
    args = parser.parse_args()
    tiny = b"outpost scale bench\n"
    tiny_layer = (put_blob(args.root, tiny), len(tiny))
    for i in range(args.count):
        image(args.root, f"scale/app{i}", [tiny_layer], str(i))
    big_mib = int(args.big_gib * 1024)
    if big_mib > 0:
        image(args.root, "scale/big", [put_generated(args.root, big_mib, 1)], "big")
    left = int(args.total_gib * 1024) - big_mib
    j = 0
    while left > 0:
        mib = min(left, max(1, int(args.fill_gib * 1024)))
        image(args.root, f"scale/fill{j}", [put_generated(args.root, mib, 100 + j)], f"fill{j}")
        left -= mib
        j += 1


if __name__ == "__main__":
    main()
