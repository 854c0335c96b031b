"""Snapshots: a registry path's content written as images.yaml (or CSV), for backfills and audits."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from releng.errors import UsageError
from releng.promo.inventory import Registries, read_inventory, split_repo
from releng.promo.manifests import REGISTRY_NAME_RE

FORMATS = ("yaml", "csv")


@dataclass(frozen=True)
class SnapshotImage:
    """One image under the snapshotted path: its name relative to the path, and digest -> tags."""

    name: str
    dmap: Mapping[str, Sequence[str]]


def snapshot(registries: Registries, path: str, *, threads: int = 20) -> list[SnapshotImage]:
    """Every repository at or under `host/prefix` (from the catalog), with tags, digests and index children."""
    path = path.rstrip("/")
    if not REGISTRY_NAME_RE.match(path) or "/" not in path:
        raise UsageError(f"snapshot {path!r}: expected REGISTRY/REPO, e.g. 127.0.0.1:5000/prod")
    host, prefix = split_repo(path)
    client = registries.client(host)
    names: dict[str, str] = {}
    for repo in client.catalog():
        if repo.startswith(prefix + "/"):
            names[f"{host}/{repo}"] = repo[len(prefix) + 1 :]
        elif repo == prefix:
            names[f"{host}/{repo}"] = repo.rsplit("/", 1)[-1]
    inv = read_inventory(registries, dict.fromkeys(names), threads=threads)
    return [
        SnapshotImage(names[p], {d: sorted(inv.repos[p][d]) for d in sorted(inv.repos[p])})
        for p in sorted(names, key=lambda p: names[p])
        if inv.repos.get(p)
    ]


def render(images: Sequence[SnapshotImage], fmt: str) -> str:
    """images.yaml (k8s.io style: one line per digest, flow-style tag list) or CSV `name,digest,tag`."""
    if fmt == "yaml":
        lines: list[str] = []
        for image in images:
            lines.append(f"- name: {image.name}\n  dmap:\n")
            for digest, tags in image.dmap.items():
                lines.append(f"    {json.dumps(digest)}: [{', '.join(json.dumps(t) for t in tags)}]\n")
        return "".join(lines) or "[]\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["name", "digest", "tag"])
        for image in images:
            for digest, tags in image.dmap.items():
                for tag in tags or [""]:
                    writer.writerow([image.name, digest, tag])
        return out.getvalue()
    raise UsageError(f"--output {fmt!r}: expected one of {', '.join(FORMATS)}")
