"""The job's clients: opened once for the targets (stores by URL, registries by host), frozen, closed at the end.

A step naming a bucket or registry outside the targets is refused with one line, never opened mid-run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from releng.errors import ReleaseError
from releng.jobs.clients import job_buckets, job_registries, open_clients
from releng.objectstore import ObjectStore, open_store
from releng.profile import Profile, load_profile


def _profile(tmp_path: Path) -> Profile:
    return load_profile("local", {"krel_home": str(tmp_path), "local_registry": "127.0.0.1:5000"})


def test_the_targets_stores_and_registries_are_opened_once(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    targets = profile.targets(True)
    opened: list[str] = []

    def opener(url: str) -> ObjectStore:
        opened.append(url)
        return open_store(url)

    with open_clients(profile, targets, opener=opener) as clients:
        assert opened == list(job_buckets(profile, targets))
        assert targets.bucket in opened and profile.ci_bucket in opened
        assert set(clients.registries) == set(job_registries(targets)) == {"127.0.0.1:5000"}
        assert clients.store(targets.bucket) is clients.store(targets.bucket)
        with pytest.raises(dataclasses.FrozenInstanceError):
            clients.stores = {}  # type: ignore[misc]
    assert len(opened) == len(set(opened))  # nothing opened twice, nothing after the start


# Addresses a step could name that are not the targets': each is refused, never opened.
OTHER_BUCKETS = {
    "the-other-targets-bucket": lambda p: p.targets(False).bucket,
    "a-subdirectory-of-the-bucket": lambda p: p.targets(True).bucket + "/stage",
    "trailing-slash": lambda p: p.targets(True).bucket + "/",
    "gs-spelling": lambda p: "gs://" + p.targets(True).bucket.rsplit("/", 1)[-1],
    "parent-of-the-bucket": lambda p: p.targets(True).bucket.rsplit("/", 1)[0],
}


@pytest.mark.parametrize("case", sorted(OTHER_BUCKETS))
def test_a_bucket_outside_the_targets_is_refused(tmp_path: Path, case: str) -> None:
    profile = _profile(tmp_path)
    url = OTHER_BUCKETS[case](profile)
    with open_clients(profile, profile.targets(True)) as clients, \
            pytest.raises(ReleaseError, match=r"is not one of this job's buckets") as exc:
        clients.store(url)
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "buckets" / "mock").exists()  # the mock bucket was not created by anything here


@pytest.mark.parametrize("host", ["127.0.0.1:5001", "127.0.0.1", "gcr.io", "127.0.0.1:5000/mock", ""])
def test_a_registry_outside_the_targets_is_refused(tmp_path: Path, host: str) -> None:
    profile = _profile(tmp_path)
    with open_clients(profile, profile.targets(True)) as clients, \
            pytest.raises(ReleaseError, match=r"is not one of this job's registries"):
        clients.registry(host)


def test_a_store_that_could_not_be_opened_fails_where_it_is_used(tmp_path: Path) -> None:
    """No cloud credentials: the run starts, and the step that needs the bucket names why it cannot have it."""
    profile = _profile(tmp_path)
    targets = profile.targets(True)

    def opener(url: str) -> ObjectStore:
        if url == targets.bucket:
            raise ReleaseError("gs://: cannot build a storage client: no credentials")
        return open_store(url)

    with open_clients(profile, targets, opener=opener) as clients:
        clients.store(profile.ci_bucket)
        with pytest.raises(ReleaseError, match="cannot build a storage client"):
            clients.store(targets.bucket)


def test_the_registry_clients_are_closed_on_the_way_out(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    opened = []
    with pytest.raises(RuntimeError, match="a step failed"), open_clients(profile, profile.targets(True)) as clients:
        opened = list(clients.registries.values())
        assert opened and not any(c._http.is_closed for c in opened)
        raise RuntimeError("a step failed")
    assert all(c._http.is_closed for c in opened)
