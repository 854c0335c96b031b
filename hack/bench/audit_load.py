#!/usr/bin/env python3
"""Load for `krel audit serve`: N events through the Pub/Sub emulator's push path, and separately N real manifest
pushes to Debian's docker-registry notifying the service. Half of each are unauthorised (tags the manifests do not
list). Prints events/s, p50/p99 latency (publish or push -> verdict, and the time in the service per request), lost
events and unflagged rogues; exits 1 if any event was lost or any rogue not flagged.

Usage: .venv/bin/python hack/bench/audit_load.py [--events 10000] [--only pubsub|registry]

Last run (2 cores shared with other work, 4 min wall): `.venv/bin/python hack/bench/audit_load.py --events 10000`
  pubsub push: 10000 events, 0 lost, 0 rogue not flagged, 0 wrongly flagged; 139 events/s;
    send->verdict p50 38.4 s, p99 69.5 s; in the service p50 8.4 ms, p99 26.7 ms
  registry notifications: 10000 events, 0 lost, 0 rogue not flagged, 0 wrongly flagged; 77 events/s;
    send->verdict p50 55.7 s, p99 58.3 s; in the service p50 6.7 ms, p99 51.0 ms
All 10,000 events of a phase are sent as one burst, so send->verdict is mostly time queued in the sender (the
emulator's push loop; the registry's notification queue, which sends one event per request in order) and the rate
is the sender's: the service itself answers within tens of ms at p99.
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
import time
from concurrent.futures import ThreadPoolExecutor
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
from releng.registry.localserver import LocalRegistry, free_port, start_local_registry

from tests.fixtures.pubsub import EMULATOR, ServiceThread

GCR = "us.gcr.io/k8s-prod"
AUTHOR = Author("bench", "bench@example.test")


class Clock(logging.Handler):
    """When each verdict was logged, by delivery id, and whether it was REJECTED."""

    def __init__(self) -> None:
        super().__init__()
        self.at: dict[str, tuple[float, str, str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        # Handler.handle() already holds the handler's own lock (self.lock) around emit. The first version replaced
        # that RLock with a plain Lock and took it again here: the first verdict deadlocked inside Auditor.handle,
        # holding the auditor's lock, and every later delivery queued behind it (the "hang", no verdicts at all).
        doc = json.loads(record.getMessage().split(" ", 1)[1])
        if doc["verdict"] != "IGNORED":
            self.at[doc["id"]] = (time.monotonic(), doc["verdict"], doc["tag"])


class Timed:
    """ASGI wrapper timing each request in the service (arrival -> answer sent): the service's own latency, apart
    from the time an event waits in the emulator's or the registry's delivery queue."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        start = time.monotonic()
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["method"] == "POST":
            self.times.append(time.monotonic() - start)

    def take(self) -> list[float]:
        taken, self.times = sorted(self.times), []
        return taken


def percentile(values: list[float], q: float) -> float:
    """values sorted ascending; the q-quantile in ms."""
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def phase_tags(phase: str, n: int) -> tuple[list[str], set[str]]:
    """n tags for one phase, every other one unauthorised; distinct per phase so verdicts never cross phases."""
    tags = [f"{phase}-{i}" if i % 2 == 0 else f"{phase}-rogue-{i}" for i in range(n)]
    return tags, {t for t in tags if "rogue" in t}


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


def report(name: str, sent: dict[str, float], clock: Clock, rogue: set[str], started: float, timed: Timed) -> bool:
    """Print the phase's figures; False if an event was lost or a rogue one not flagged."""
    deadline = time.monotonic() + 300
    while len(sent.keys() & clock.at.keys()) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.1)
    got = {k: v for k, v in dict(clock.at).items() if k in sent}  # a copy: the service thread still writes
    if not got:
        raise SystemExit(f"{name}: no verdicts for {len(sent)} events (saw {list(clock.at)[:3]})")
    latencies = sorted(got[k][0] - sent[k] for k in got)
    end = max(v[0] for v in got.values())
    flagged = {tag for _, verdict, tag in got.values() if verdict == "REJECTED"}
    served = timed.take()
    print(f"{name}: {len(sent)} events, {len(sent) - len(got)} lost, {len(rogue - flagged)} rogue not flagged, "
          f"{len(flagged - rogue)} wrongly flagged; {len(got) / (end - started):.0f} events/s; "
          f"send->verdict p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms; "
          f"in the service ({len(served)} requests) p50 {percentile(served, 0.5):.1f} ms, "
          f"p99 {percentile(served, 0.99):.1f} ms")
    return len(got) == len(sent) and flagged == rogue


def bench_pubsub(n: int, url: str, clock: Clock, timed: Timed, digest: str) -> bool:
    port = free_port()
    proc = subprocess.Popen([str(EMULATOR), "--host=127.0.0.1", f"--port={port}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"Pub/Sub emulator {EMULATOR} did not answer on 127.0.0.1:{port}")
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
        started = time.monotonic()
        futures = []
        tags, rogue = phase_tags("ps", n)
        for tag in tags:
            body = json.dumps({"action": "INSERT", "digest": f"{GCR}/app@{digest}", "tag": f"{GCR}/app:{tag}"})
            futures.append((time.monotonic(), publisher.publish(topic, body.encode())))
        for t, future in futures:
            sent[f"pubsub/{future.result(timeout=60)}"] = t
        return report("pubsub push", sent, clock, rogue, started, timed)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)


def bench_registry(n: int, registry: LocalRegistry, clock: Clock, timed: Timed, raw: bytes, media_type: str) -> bool:
    sent: dict[str, float] = {}
    tags, rogue = phase_tags("reg", n)
    started = time.monotonic()

    def push(client: RegistryClient, tag: str) -> None:
        # Stamped before the PUT: the registry queues the notification before it answers.
        sent[tag] = time.monotonic()
        client.put_manifest("prod/app", tag, raw, media_type)

    with RegistryClient(registry.host, max_connections=8) as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda tag: push(client, tag), tags))
    # Registry event ids are the registry's own: match verdicts to pushes by tag.
    deadline = time.monotonic() + 300
    while sum(1 for v in list(clock.at.values()) if v[2] in sent) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    keyed = Clock()
    keyed.at = {v[2]: v for v in list(clock.at.values()) if v[2] in sent}
    return report("registry notifications", sent, keyed, rogue, started, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--only", choices=("pubsub", "registry"))
    args = parser.parse_args()
    clock = Clock()
    logging.getLogger("releng.promo.audit.verdicts").addHandler(clock)
    logging.getLogger("releng.promo.audit.verdicts").setLevel(logging.INFO)
    logging.getLogger("releng.promo.audit.verdicts").propagate = False
    ok = True
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        work = Path(tmp)
        svc_port = free_port()
        registry = start_local_registry(work / "reg", notifications_url=f"http://127.0.0.1:{svc_port}/registry")
        try:
            tar = build_image_tarball(work / "app.tar", {"app": b"bench\n"}, "amd64")
            with RegistryClient(registry.host) as client:
                digest = push_image_tarball(client, tar, "prod/app", "seed")
                raw, media_type, _ = client.get_manifest("prod/app", digest)
            listed = [t for phase in ("ps", "reg") for t in phase_tags(phase, args.events)[0] if "rogue" not in t]
            listed.append("seed")
            origin = manifests_repo(work, f"{registry.host}/prod", digest, listed)
            auditor = open_auditor(str(origin), "master", "m", work / "audit", reader=lambda h, p, d: (),
                                   interval=5)
            options = ServeOptions(registry_host=registry.host)
            timed = Timed(create_app(auditor, options))
            with ServiceThread(timed, svc_port) as service:
                if args.only != "registry":
                    ok &= bench_pubsub(args.events, service.url, clock, timed, digest)
                if args.only != "pubsub":
                    ok &= bench_registry(args.events, registry, clock, timed, raw, media_type)
                status = httpx.get(f"{service.url}/healthz").json()
                print(f"service: {json.dumps(status)}")
        finally:
            registry.stop()
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
