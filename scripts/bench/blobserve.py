#!/usr/bin/env python3
"""A read-only registry on loopback for the scale benchmark's big layers, which it makes up as
it sends them instead of holding them on disk: a 30 GB corpus would otherwise need 30 GB of
upstream storage beside the cache, the bundle and the site store.

SPEC (written by scale_corpus.py --generated) lists, per repository, its manifest and config
bytes and its layers as {seed, mib, digest}. Layer bytes are those of
scale_corpus.py:generated_blocks (a seeded 1 MiB block, each MiB stamped with seed and
number), so the digests in SPEC hold. It answers the distribution API a puller uses:
GET /v2/, GET|HEAD manifests by tag `1` or digest, GET|HEAD blobs (with `Range: bytes=N-`,
206), tags/list; referrers and anything else are 404 with a distribution error body.

  scripts/bench/blobserve.py SPEC PORT
"""
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from scale_corpus import MIB, seeded_block

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def load(spec_path):
    spec = json.load(open(spec_path))
    manifests, blobs = {}, {}
    for name, image in spec.items():
        manifest = image["manifest"].encode()
        config = image["config"].encode()
        manifests[(name, "1")] = (manifest, image["manifest_digest"])
        manifests[(name, image["manifest_digest"])] = (manifest, image["manifest_digest"])
        blobs[(name, image["config_digest"])] = ("bytes", config)
        for layer in image["layers"]:
            blobs[(name, layer["digest"])] = ("generated", layer)
    return manifests, blobs


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    manifests = {}
    blobs = {}

    def log_message(self, *args):
        pass

    def error(self, status, code):
        body = json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply(self, body, content_type, digest):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in ("/v2", "/v2/"):
            return self.reply(b"{}", "application/json", "")
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", path)
        if m is None:
            t = re.fullmatch(r"/v2/(.+)/tags/list", path)
            if t and any(name == t.group(1) for name, _ in self.manifests):
                return self.reply(json.dumps({"name": t.group(1), "tags": ["1"]}).encode(),
                                  "application/json", "")
            return self.error(404, "NAME_UNKNOWN")
        name, kind, ref = m.groups()
        if kind == "manifests":
            found = self.manifests.get((name, ref))
            if found is None:
                return self.error(404, "MANIFEST_UNKNOWN")
            return self.reply(found[0], MANIFEST, found[1])
        blob = self.blobs.get((name, ref))
        if blob is None:
            return self.error(404, "BLOB_UNKNOWN")
        kind, value = blob
        if kind == "bytes":
            return self.reply(value, "application/octet-stream", ref)
        self.send_layer(value, ref)

    def send_layer(self, layer, digest):
        size = layer["mib"] * MIB
        start = 0
        ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if ranged:
            start = min(int(ranged.group(1)), size)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size - start))
        self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if self.command == "HEAD":
            return
        block = seeded_block(layer["seed"])
        view = memoryview(block)
        for number in range(start // MIB, layer["mib"]):
            block[:16] = layer["seed"].to_bytes(8, "little") + number.to_bytes(8, "little")
            skip = start - number * MIB if number * MIB < start else 0
            try:
                self.wfile.write(view[skip:])
            except (BrokenPipeError, ConnectionResetError):
                return


def main():
    spec, port = sys.argv[1], int(sys.argv[2])
    Handler.manifests, Handler.blobs = load(spec)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
