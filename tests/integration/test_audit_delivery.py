"""The auditor end to end with real parts: a manifests repository (git), Debian's docker-registry notifying the
service, the Pub/Sub emulator pushing to it (real google-cloud-pubsub client), and `pull` from a subscription."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from releng import git
from releng.promo.audit.app import ServeOptions, create_app
from releng.promo.audit.auth import HeaderCheck
from releng.promo.audit.children import registry_children
from releng.promo.audit.pull import pull
from releng.promo.audit.report import JsonlReporter
from releng.promo.audit.service import Auditor, open_auditor
from releng.promo.inventory import Registries
from releng.registry.client import RegistryClient
from releng.registry.copy import copy_image
from releng.registry.localserver import LocalRegistry, free_port, start_local_registry

from tests.fixtures.gitrepo import RepoPair
from tests.fixtures.promo import STAGING_PREFIX, PromoGolden
from tests.fixtures.pubsub import ServiceThread

SECRET = "Bearer audit-test-secret"
GCR = "us.gcr.io/k8s-prod"


class Verdicts(logging.Handler):
    """Every verdict log line, as records."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(json.loads(record.getMessage().split(" ", 1)[1]))

    def wait(self, pred: Callable[[list[dict[str, Any]]], bool], timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not pred(self.seen):
            assert time.monotonic() < deadline, f"verdicts so far: {self.seen}"
            time.sleep(0.05)
        return self.seen


@pytest.fixture
def verdicts() -> Iterator[Verdicts]:
    handler = Verdicts()
    logger = logging.getLogger("releng.promo.audit.verdicts")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


def _manifests(golden: PromoGolden, prod: str, images: dict[str, dict[str, list[str]]]) -> dict[str, str]:
    registries = (f"registries:\n- name: {golden.staging.host}/{STAGING_PREFIX}\n  src: true\n"
                  f"- name: {prod}\n- name: {GCR}\n")
    files = {"audit/manifests/cip/promoter-manifest.yaml": registries}
    body = "".join(f"- name: {name}\n  dmap:\n" + "".join(f'    "{d}": {json.dumps(t)}\n' for d, t in dmap.items())
                   for name, dmap in images.items())
    files["audit/images/cip/images.yaml"] = body
    return files


def _publish(repo: RepoPair, files: dict[str, str], message: str) -> str:
    repo.commit(message, files)
    git.push(repo.work, "origin", ["master"], dry_run=False)
    return git.rev_parse(repo.work, "HEAD")


@pytest.fixture
def setup(promo_golden: PromoGolden, git_repo_factory: Callable[[str], RepoPair], tmp_path: Path,
          verdicts: Verdicts) -> Iterator[dict[str, Any]]:
    d = promo_golden.digests
    port = free_port()
    extra = ("notifications:\n  endpoints:\n    - name: audit\n"
             f"      url: http://127.0.0.1:{port}/registry\n      headers: {{Authorization: [{SECRET}]}}\n"
             "      timeout: 2s\n      threshold: 5\n      backoff: 1s\n"
             "      ignoredmediatypes: [application/octet-stream]\n")
    prod = start_local_registry(tmp_path / "prod", extra_config=extra)
    images = {"golden-foo/foo": {d["foo-index"]: ["1.0"]}, "golden-bar/bar": {d["bar"]: ["1.0"]}}
    repo = git_repo_factory("audit-manifests")
    _publish(repo, _manifests(promo_golden, f"{prod.host}/cip", images), "manifests")
    jsonl = tmp_path / "rejected.jsonl"
    registries = Registries(rate=500, retries=1)
    read = registry_children(registries)

    def reader(host: str, path: str, digest: str) -> tuple[str, ...]:
        # The stand-in for us.gcr.io/k8s-prod (the Pub/Sub events' registry) is the staging registry.
        if host == GCR.split("/")[0]:
            return read(promo_golden.staging.host, path.replace("k8s-prod/", f"{STAGING_PREFIX}/", 1), digest)
        return read(host, path, digest)

    auditor = open_auditor(str(repo.origin), "master", "audit", tmp_path / "work", reader=reader,
                           reporters=[JsonlReporter(jsonl)], interval=0.2, hold_seconds=3)
    options = ServeOptions(registry_host=prod.host, registry_header=HeaderCheck("Authorization", SECRET), tick=0.1)
    try:
        with ServiceThread(create_app(auditor, options), port) as service:
            yield {"prod": prod, "auditor": auditor, "service": service, "repo": repo, "images": images,
                   "jsonl": jsonl, "golden": promo_golden}
    finally:
        registries.close()
        prod.stop()


def _copy(golden: PromoGolden, prod: LocalRegistry, src: str, digest: str, dst: str, tags: tuple[str, ...]) -> None:
    with RegistryClient(golden.staging.host) as s, RegistryClient(prod.host) as p:
        copy_image(s, f"{STAGING_PREFIX}/{src}", digest, p, f"cip/{dst}", tags)


def _judged(seen: list[dict[str, Any]], digest: str, tag: str = "") -> list[str]:
    return [v["verdict"] for v in seen if v["digest"] == digest and v["tag"] == tag and v["verdict"] != "IGNORED"]


def test_registry_notifications(setup: dict[str, Any], verdicts: Verdicts) -> None:
    golden, prod, auditor = setup["golden"], setup["prod"], setup["auditor"]
    d = golden.digests
    # A listed image with its listed tag, then the same digest under a tag the manifests do not list.
    _copy(golden, prod, "golden-bar/bar", d["bar"], "golden-bar/bar", ("1.0",))
    _copy(golden, prod, "golden-bar/bar", d["bar"], "golden-bar/bar", ("2.0",))
    # A multi-arch list: the copy pushes the children first (untagged), then the index.
    _copy(golden, prod, "golden-foo/foo", d["foo-index"], "golden-foo/foo", ("1.0",))
    # An image nobody listed.
    _copy(golden, prod, "scratch", d["notag"], "scratch", ("notag",))
    seen = verdicts.wait(lambda s: len(_judged(s, d["notag"], "notag")) == 1 and
                         len(_judged(s, d["foo-s390x"])) == 1 and len(_judged(s, d["foo-amd64"])) == 1)
    assert "VERIFIED" in _judged(seen, d["bar"], "1.0")
    assert _judged(seen, d["bar"], "2.0") == ["REJECTED"]
    assert "VERIFIED" in _judged(seen, d["foo-index"], "1.0")
    assert _judged(seen, d["foo-amd64"]) == ["VERIFIED"] and _judged(seen, d["foo-s390x"]) == ["VERIFIED"]
    assert _judged(seen, d["notag"], "notag") == ["REJECTED"]
    assert auditor.children.reads == 1  # the index, read once; nothing else read from a registry
    # A deletion of something promoted.
    with RegistryClient(prod.host) as client:
        client.delete_manifest("cip/golden-bar/bar", d["bar"])
    seen = verdicts.wait(lambda s: any(v["action"] == "DELETE" for v in s))
    assert {v["verdict"] for v in seen if v["action"] == "DELETE" and v["digest"] == d["bar"]} == {"REJECTED"}
    rejected = [json.loads(line) for line in setup["jsonl"].read_text().splitlines()]
    assert {r["digest"] for r in rejected} >= {d["bar"], d["notag"]}
    # The branch head moves (scratch merged): the same push is VERIFIED from then on; parsed once more only.
    parses = auditor.source.parses
    images = {**setup["images"], "scratch": {d["notag"]: ["notag"]}}
    head = _publish(setup["repo"], _manifests(golden, f"{prod.host}/cip", images), "add scratch")
    deadline = time.monotonic() + 20
    while httpx.get(f"{setup['service'].url}/healthz").json()["head"] != head:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with RegistryClient(prod.host) as client:
        raw, media_type, _ = client.get_manifest("cip/scratch", d["notag"])
        client.put_manifest("cip/scratch", "notag", raw, media_type)
    seen = verdicts.wait(lambda s: len(_judged(s, d["notag"], "notag")) == 2)
    assert _judged(seen, d["notag"], "notag") == ["REJECTED", "VERIFIED"]
    assert auditor.source.parses == parses + 1


def test_registry_sender_without_secret_refused(setup: dict[str, Any]) -> None:
    envelope = {"events": [{"id": "x", "action": "delete", "target": {"repository": "cip/x", "tag": "1"}}]}
    url = f"{setup['service'].url}/registry"
    assert httpx.post(url, json=envelope).status_code == 401
    assert httpx.post(url, content=b"{" * 10, headers={"Authorization": SECRET}).status_code == 400
    assert httpx.post(url, content=b"x" * (2 << 20), headers={"Authorization": SECRET}).status_code == 413
    assert httpx.get(f"{setup['service'].url}/healthz").status_code == 200


def test_manifests_repo_unreachable_keeps_serving(setup: dict[str, Any], verdicts: Verdicts) -> None:
    auditor: Auditor = setup["auditor"]
    head = auditor.source.head
    auditor.source.url = str(setup["repo"].origin) + "-gone"
    deadline = time.monotonic() + 10
    while not httpx.get(f"{setup['service'].url}/healthz").json()["error"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    body = _push(f"{GCR}/golden-bar/bar@{setup['golden'].digests['bar']}", f"{GCR}/golden-bar/bar:1.0", "m1")
    answer = httpx.post(setup["service"].url, content=body)
    assert answer.status_code == 200 and answer.json()["verdicts"][0]["verdict"] == "VERIFIED"
    assert answer.json()["verdicts"][0]["head"] == head


def _push(digest: str, tag: str, message_id: str) -> bytes:
    data = base64.b64encode(json.dumps({"action": "INSERT", "digest": digest, "tag": tag}).encode()).decode()
    return json.dumps({"message": {"data": data, "messageId": message_id}, "subscription": "s"}).encode()


def _gcr_payloads(golden: PromoGolden, n: int) -> list[tuple[dict[str, str], bool]]:
    """n GCR payloads, half of them unauthorised (tags the manifests do not list); (payload, authorised)."""
    bar = f"{GCR}/golden-bar/bar"
    out = []
    for i in range(n):
        ok = i % 2 == 0
        out.append(({"action": "INSERT", "digest": f"{bar}@{golden.digests['bar']}",
                     "tag": f"{bar}:{'1.0' if ok else f'rogue-{i}'}"}, ok))
    return out


def test_pubsub_push_through_emulator(setup: dict[str, Any], pubsub_emulator: str, verdicts: Verdicts,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from google.cloud import pubsub_v1

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path("krel-test", f"gcr-{free_port()}")
    publisher.create_topic(name=topic)
    sub = subscriber.subscription_path("krel-test", f"audit-push-{free_port()}")
    subscriber.create_subscription(name=sub, topic=topic,
                                   push_config=pubsub_v1.types.PushConfig(push_endpoint=f"{setup['service'].url}/"))
    payloads = _gcr_payloads(setup["golden"], 30)
    for future in [publisher.publish(topic, json.dumps(p).encode()) for p, _ in payloads]:
        future.result(timeout=30)
    seen = verdicts.wait(lambda s: sum(1 for v in s if v["id"].startswith("pubsub/")) >= 30, timeout=60)
    pushed = [v for v in seen if v["id"].startswith("pubsub/")]
    assert len(pushed) == 30 and len({v["id"] for v in pushed}) == 30
    rogue = {p["tag"].rsplit(":", 1)[1] for p, ok in payloads if not ok}
    assert {v["tag"] for v in pushed if v["verdict"] == "REJECTED"} == rogue
    assert {v["verdict"] for v in pushed if v["tag"] == "1.0"} == {"VERIFIED"}
    subscriber.close()


def test_pull_from_subscription(setup: dict[str, Any], pubsub_emulator: str, verdicts: Verdicts,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from google.cloud import pubsub_v1

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path("krel-test", f"gcr-pull-{free_port()}")
    publisher.create_topic(name=topic)
    sub = subscriber.subscription_path("krel-test", f"audit-pull-{free_port()}")
    subscriber.create_subscription(name=sub, topic=topic)
    payloads = _gcr_payloads(setup["golden"], 6)
    publisher.publish(topic, b"not json").result(timeout=30)
    for future in [publisher.publish(topic, json.dumps(p).encode()) for p, _ in payloads]:
        future.result(timeout=30)
    handled = pull(setup["auditor"], sub, max_messages=7, timeout=60)
    assert handled == 7
    pulled = [v for v in verdicts.seen if v["id"].startswith("pubsub/")]
    assert sorted(v["verdict"] for v in pulled) == ["REJECTED"] * 3 + ["VERIFIED"] * 3
    subscriber.close()
