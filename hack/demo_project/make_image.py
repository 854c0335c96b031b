#!/usr/bin/env python3
"""Write a `docker save` tarball of a one-layer image without Docker, byte-for-byte reproducible."""

import argparse
import gzip
import hashlib
import io
import json
import tarfile


def _tar(entries: dict, gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(entries):
            data, mode = entries[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--arch", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--binary", required=True)
    p.add_argument("--repo-tag", required=True)
    p.add_argument("out")
    a = p.parse_args()
    with open(a.binary, "rb") as f:
        binary = f.read()
    layer = _tar({"usr/local/bin/demo-server": (binary, 0o755), "etc/demo-version": (a.version.encode(), 0o644)})
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": a.arch,
        "os": "linux",
        "config": {"Entrypoint": ["/usr/local/bin/demo-server"], "Labels": {"version": a.version}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "created": "1970-01-01T00:00:00Z",
    }, sort_keys=True).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_name = diff_id.split(":")[1] + "/layer.tar"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [a.repo_tag], "Layers": [layer_name]}]).encode()
    with open(a.out, "wb") as f:
        f.write(_tar({"manifest.json": (manifest, 0o644), config_name: (config, 0o644), layer_name: (layer, 0o644)}))


if __name__ == "__main__":
    main()
