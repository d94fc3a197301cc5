#!/usr/bin/env python3
"""Sign images in a plain-HTTP registry the way `cosign sign --key` does, with openssl.

For each REPOSITORY:TAG it reads the image's digest from the registry, writes cosign's
simple-signing payload naming that digest, signs the payload with ECDSA P-256 / SHA-256
(`openssl dgst -sha256 -sign KEY`), and pushes the signature manifest under cosign's tag
scheme (`sha256-<hex>.sig`): an OCI manifest whose one layer
(`application/vnd.dev.cosign.simplesigning.v1+json`) is the payload, with the base64 DER
signature in the layer annotation `dev.cosignproject.cosign/signature`.

Used by `scripts/bench.sh supply` (Debian's cosign-less machines have no other signer); the
result verifies with `cosign verify --key` and with `openssl dgst -sha256 -verify`.

  scripts/cosign_sign.py --registry 127.0.0.1:5000 --key cosign.key REPOSITORY:TAG...
"""
import argparse
import base64
import hashlib
import json
import subprocess
import sys
import urllib.request

ACCEPT = ",".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as response:
        return response.read(), response.headers


def push_blob(base, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _, headers = request("POST", f"{base}/v2/{repo}/blobs/uploads/", b"")
    location = headers["Location"]
    if location.startswith("/"):
        location = base + location
    sep = "&" if "?" in location else "?"
    request("PUT", f"{location}{sep}digest={digest}", data,
            {"Content-Type": "application/octet-stream"})
    return {"digest": digest, "size": len(data)}


def sign(base, key, image, claim=None):
    repo, tag = image.rsplit(":", 1)
    body, _ = request("GET", f"{base}/v2/{repo}/manifests/{tag}", headers={"Accept": ACCEPT})
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    host = base.split("://", 1)[1]
    payload = json.dumps({
        "critical": {
            "identity": {"docker-reference": f"{host}/{repo}"},
            "image": {"docker-manifest-digest": claim or digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }, separators=(",", ":")).encode()
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                               input=payload, capture_output=True, check=True).stdout
    payload_blob = push_blob(base, repo, payload)
    config = json.dumps({
        "architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [payload_blob["digest"]]},
    }, separators=(",", ":")).encode()
    config_blob = push_blob(base, repo, config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **config_blob},
        "layers": [{
            "mediaType": SIMPLE_SIGNING, **payload_blob,
            "annotations": {"dev.cosignproject.cosign/signature": base64.b64encode(signature).decode()},
        }],
    }, separators=(",", ":")).encode()
    sig_tag = digest.replace(":", "-") + ".sig"
    request("PUT", f"{base}/v2/{repo}/manifests/{sig_tag}", manifest,
            {"Content-Type": OCI_MANIFEST})
    return digest, sig_tag


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", required=True, help="HOST:PORT of a plain-HTTP registry")
    parser.add_argument("--key", required=True, help="EC P-256 private key (PEM)")
    parser.add_argument("--claim", metavar="DIGEST",
                        help="write DIGEST into the payload instead of the image's own (a forged signature, for testing verifiers)")
    parser.add_argument("images", nargs="+", help="REPOSITORY:TAG")
    args = parser.parse_args()
    base = "http://" + args.registry
    for image in args.images:
        try:
            digest, sig_tag = sign(base, args.key, image, args.claim)
        except Exception as error:  # one line naming the image, then stop
            print(f"cosign_sign: {image}: {error}", file=sys.stderr)
            return 1
        print(f"{image} {digest} {sig_tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
