#!/usr/bin/env python3
"""Writes COUNT small single-platform images (linux/amd64) straight into a CNCF
distribution (`docker-registry`) filesystem storage root, as `bench/app<i>:1`: one shared
tiny layer and a config unique to each image. Pushing thousands of images one by one takes
minutes; the dashboard benchmark (scripts/bench/ui.sh) only needs many manifests.

  scripts/bench/ui_corpus.py ROOT --count 5000
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile


def put_blob(root, data):
    hexd = hashlib.sha256(data).hexdigest()
    path = os.path.join(root, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return hexd


def link(path, hexd):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "link"), "w") as f:
        f.write("sha256:" + hexd)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        body = b"outpost ui bench\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(body), 0
        tar.addfile(info, io.BytesIO(body))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    diff_id = hashlib.sha256(raw.getvalue()).hexdigest()
    layer_hex = put_blob(args.root, layer)
    repos = os.path.join(args.root, "docker/registry/v2/repositories")
    for i in range(args.count):
        config = json.dumps({
            "architecture": "amd64", "os": "linux",
            "config": {"Labels": {"n": str(i)}},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]},
        }, sort_keys=True).encode()
        config_hex = put_blob(args.root, config)
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + config_hex, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": "sha256:" + layer_hex, "size": len(layer)}],
        }, sort_keys=True).encode()
        manifest_hex = put_blob(args.root, manifest)
        repo = os.path.join(repos, f"bench/app{i}")
        link(os.path.join(repo, "_layers/sha256", layer_hex), layer_hex)
        link(os.path.join(repo, "_layers/sha256", config_hex), config_hex)
        link(os.path.join(repo, "_manifests/revisions/sha256", manifest_hex), manifest_hex)
        link(os.path.join(repo, "_manifests/tags/1/current"), manifest_hex)
        link(os.path.join(repo, "_manifests/tags/1/index/sha256", manifest_hex), manifest_hex)
        print(f"bench/app{i}:1")


if __name__ == "__main__":
    main()
