#!/usr/bin/env python3
"""Load for `krel audit serve`: N events through the Pub/Sub emulator's push path, and separately N real manifest
pushes to Debian's docker-registry notifying the service. Half of each are unauthorised (tags the manifests do not
list). Prints events/s, p50/p99 latency (publish or push -> verdict), lost events and unflagged rogues.

Usage: .venv/bin/python hack/bench/audit_load.py [--events 10000] [--only pubsub|registry]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from releng import git
from releng.profile import Author
from releng.promo.audit.app import ServeOptions, create_app
from releng.promo.audit.service import open_auditor
from releng.registry.client import RegistryClient
from releng.registry.imagetar import build_image_tarball, push_image_tarball
from releng.registry.localserver import free_port, start_local_registry

from tests.fixtures.pubsub import EMULATOR, ServiceThread

GCR = "us.gcr.io/k8s-prod"
AUTHOR = Author("bench", "bench@example.test")


class Clock(logging.Handler):
    """When each verdict was logged, by delivery id, and whether it was REJECTED."""

    def __init__(self) -> None:
        super().__init__()
        self.at: dict[str, tuple[float, str, str]] = {}
        self.lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        doc = json.loads(record.getMessage().split(" ", 1)[1])
        if doc["verdict"] != "IGNORED":
            with self.lock:
                self.at[doc["id"]] = (time.monotonic(), doc["verdict"], doc["tag"])


def manifests_repo(work: Path, registry: str, digest: str, listed: list[str]) -> Path:
    origin, tree = git.init(work / "origin.git", bare=True), git.init(work / "tree")
    files = {
        "m/manifests/bench/promoter-manifest.yaml":
            f"registries:\n- name: staging.example/bench\n  src: true\n- name: {registry}\n- name: {GCR}\n",
        "m/images/bench/images.yaml": f'- name: app\n  dmap:\n    "{digest}": {json.dumps(listed)}\n',
    }
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    git.commit_paths(tree, list(files), "bench manifests", AUTHOR)
    git.set_remote_url(tree, "origin", str(origin))
    git.push(tree, "origin", ["master"], dry_run=False)
    return origin


def report(name: str, sent: dict[str, float], clock: Clock, rogue: set[str], started: float) -> None:
    deadline = time.monotonic() + 300
    while len(clock.at) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.1)
    got = {k: v for k, v in clock.at.items() if k in sent}
    if not got:
        raise SystemExit(f"{name}: no verdicts for {len(sent)} events (saw {list(clock.at)[:3]})")
    latencies = sorted(got[k][0] - sent[k] for k in got)
    end = max(v[0] for v in got.values())
    flagged = {tag for _, verdict, tag in got.values() if verdict == "REJECTED"}
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(f"{name}: {len(sent)} events, {len(sent) - len(got)} lost, {len(rogue - flagged)} rogue not flagged, "
          f"{len(flagged - rogue)} wrongly flagged; {len(got) / (end - started):.0f} events/s; "
          f"latency p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms")


def bench_pubsub(n: int, url: str, clock: Clock, digest: str) -> None:
    port = free_port()
    proc = subprocess.Popen([str(EMULATOR), "--host=127.0.0.1", f"--port={port}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).text.strip() == "Ok":
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        os.environ["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        from google.cloud import pubsub_v1

        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        topic = publisher.topic_path("bench", "gcr")
        publisher.create_topic(name=topic)
        subscriber.create_subscription(name=subscriber.subscription_path("bench", "audit"), topic=topic,
                                       push_config=pubsub_v1.types.PushConfig(push_endpoint=f"{url}/"))
        sent: dict[str, float] = {}
        rogue: set[str] = set()
        started = time.monotonic()
        futures = []
        for i in range(n):
            tag = f"t-{i}" if i % 2 == 0 else f"rogue-{i}"
            if i % 2:
                rogue.add(tag)
            body = json.dumps({"action": "INSERT", "digest": f"{GCR}/app@{digest}", "tag": f"{GCR}/app:{tag}"})
            futures.append((time.monotonic(), publisher.publish(topic, body.encode())))
        for t, future in futures:
            sent[f"pubsub/{future.result(timeout=60)}"] = t
        report("pubsub push", sent, clock, rogue, started)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)


def bench_registry(n: int, registry: Any, clock: Clock, raw: bytes, media_type: str) -> None:
    sent: dict[str, float] = {}
    rogue: set[str] = set()
    by_tag: dict[str, str] = {}
    started = time.monotonic()
    with RegistryClient(registry.host, max_connections=8) as client:
        for i in range(n):
            tag = f"t-{i}" if i % 2 == 0 else f"rogue-{i}"
            if i % 2:
                rogue.add(tag)
            client.put_manifest("prod/app", tag, raw, media_type)
            by_tag[tag] = str(time.monotonic())
            sent[tag] = time.monotonic()
    # Registry event ids are the registry's own: match verdicts to pushes by tag.
    deadline = time.monotonic() + 300
    while sum(1 for v in clock.at.values() if v[2] in sent) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    keyed = Clock()
    keyed.at = {v[2]: v for v in clock.at.values() if v[2] in sent}
    report("registry notifications", sent, keyed, rogue, started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--only", choices=("pubsub", "registry"))
    args = parser.parse_args()
    clock = Clock()
    logging.getLogger("releng.promo.audit.verdicts").addHandler(clock)
    logging.getLogger("releng.promo.audit.verdicts").setLevel(logging.INFO)
    logging.getLogger("releng.promo.audit.verdicts").propagate = False
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        work = Path(tmp)
        svc_port = free_port()
        registry = start_local_registry(work / "reg", notifications_url=f"http://127.0.0.1:{svc_port}/registry")
        try:
            tar = build_image_tarball(work / "app.tar", {"app": b"bench\n"}, "amd64")
            with RegistryClient(registry.host) as client:
                digest = push_image_tarball(client, tar, "prod/app", "seed")
                raw, media_type, _ = client.get_manifest("prod/app", digest)
            listed = [f"t-{i}" for i in range(0, args.events, 2)] + ["seed"]
            origin = manifests_repo(work, f"{registry.host}/prod", digest, listed)
            auditor = open_auditor(str(origin), "master", "m", work / "audit", reader=lambda h, p, d: (),
                                   interval=5)
            options = ServeOptions(registry_host=registry.host)
            with ServiceThread(create_app(auditor, options), svc_port) as service:
                if args.only != "registry":
                    bench_pubsub(args.events, service.url, clock, digest)
                if args.only != "pubsub":
                    bench_registry(args.events, registry, clock, raw, media_type)
                status = httpx.get(f"{service.url}/healthz").json()
                print(f"service: {json.dumps(status)}")
        finally:
            registry.stop()


if __name__ == "__main__":
    main()
