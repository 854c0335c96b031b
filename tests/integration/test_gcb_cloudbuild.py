"""The Cloud Build runner with the real google-cloud-build client against the local REST stub."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from releng.errors import ReleaseError
from releng.gcb.cloudbuild import CloudBuildRunner
from releng.gcb.config import GcbFacts, GcbOptions, build_request
from releng.gcb.history import history, render_history
from releng.profile import load_profile

from tests.fixtures.cloudbuild import CloudBuildStub
from tests.fixtures.gcbchoice import chosen

BV = "v1.30.1-rc.0.5+3ff09514d162b0"
K8S = load_profile("kubernetes")


def _request(nomock: bool = False, release: bool = True):  # type: ignore[no-untyped-def]
    options = GcbOptions(
        job="release" if release else "stage", branch="release-1.30", release_type="rc", build_version=BV,
        nomock=nomock,
    )
    facts = GcbFacts(build_version=BV, branch_is_new=False, gcp_user="jane@example.com", git_tag="v0.1.0")
    return build_request(chosen(options, K8S), K8S, facts, runner="gcb", krel_command=CloudBuildRunner.krel_command)


def test_submit_sends_the_whole_build(cloudbuild_stub: CloudBuildStub) -> None:
    runner = CloudBuildRunner("k8s-release", api_endpoint=cloudbuild_stub.endpoint)
    job = runner.submit(_request(nomock=True))
    assert job.status == "QUEUED" and job.runner == "gcb" and job.kind == "release"
    method, path, query, body = cloudbuild_stub.requests[0]
    assert (method, path) == ("POST", "/v1/projects/k8s-release/builds")
    assert query.get("$alt") == "json;enum-encoding=int"
    assert body["substitutions"] == {
        "_TOOL_ORG": "kubernetes",
        "_TOOL_REPO": "release",
        "_TOOL_REF": "master",
        "_FORCE_BUILD_KREL": "false",
        "_K8S_ORG": "kubernetes",
        "_K8S_REPO": "kubernetes",
        "_K8S_REF": "master",
        "_GCP_USER_TAG": "jane",
        "_TYPE": "rc",
        "_TYPE_TAG": "rc",
        "_RELEASE_BRANCH": "release-1.30",
        "_KUBE_CROSS_VERSION": "latest",
        "_KUBE_CROSS_VERSION_LATEST": "latest",
        "_BUILDVERSION": BV,
        "_MAJOR_VERSION_TAG": "1",
        "_MINOR_VERSION_TAG": "30",
        "_PATCH_VERSION_TAG": "1",
        "_KUBERNETES_VERSION_TAG": "1.30.1-rc.1",
        "_NOMOCK_TAG": "nomock",
        "_NOMOCK": "--nomock",
        "_LOG_LEVEL": "info",
        "_GIT_TAG": "v0.1.0",
        "_KUBERNETES_GCS_BUCKET": f"gs://767373bbdcb8270361b96548387bf2a9ad0d48758c35/stage/{BV}/v1.30.1-rc.1/gcs-stage/v1.30.1-rc.1",
        "_FASTLY_SERVICE_NAME": "dl.k8s.io",
    }
    assert body["tags"] == ["jane", "release-1.30", "nomock", "RELEASE", "v0.1.0", "rc", "1", "30", "1.30.1-rc.1"]
    assert body["timeout"] == "14400s"
    # Enums travel as integers: ALLOW_LOOSE = 1; a private pool instead of a machine type and disk size.
    assert body["options"] == {
        "substitutionOption": 1,
        "pool": {"name": "projects/k8s-release/locations/us-central1/workerPools/c3-highcpu-44"},
    }
    assert body["availableSecrets"] == {
        "secretManager": [
            {
                "versionName": "projects/k8s-release/secrets/github-token/versions/latest",
                "env": "GITHUB_TOKEN",
            },
            {
                "versionName": "projects/k8s-release/secrets/dockerhub-token/versions/latest",
                "env": "DOCKERHUB_TOKEN",
            },
        ]
    }
    steps = body["steps"]
    assert [s["id"] for s in steps] == ["clone-tool", "get-krel", "krel-release"]
    assert steps[-1]["secretEnv"] == ["GITHUB_TOKEN", "DOCKERHUB_TOKEN"]
    assert steps[-1]["entrypoint"] == "sh"
    assert steps[-1]["args"][-1].startswith(
        "env PYTHONPATH=/workspace/krel python3 -m releng.gcb.keyfiles python3 -m krel --log-level=${_LOG_LEVEL}"
    )


def test_machine_type_travels_as_an_enum_int(cloudbuild_stub: CloudBuildStub) -> None:
    import dataclasses

    request = dataclasses.replace(_request(), machine_type="E2_HIGHCPU_32", private_pool="", disk_size_gb=500)
    CloudBuildRunner("p", api_endpoint=cloudbuild_stub.endpoint).submit(request)
    assert cloudbuild_stub.requests[0][3]["options"] == {"machineType": 6, "substitutionOption": 1, "diskSizeGb": "500"}


def test_get_cancel_and_list_by_tags(cloudbuild_stub: CloudBuildStub) -> None:
    runner = CloudBuildRunner("k8s-release", api_endpoint=cloudbuild_stub.endpoint)
    stage = runner.submit(_request(release=False))
    release = runner.submit(_request())
    cloudbuild_stub.add_build("k8s-release", tags=["STAGE", "release-1.29"])
    cloudbuild_stub.finish(stage.id, "SUCCESS")
    got = runner.get(stage.id)
    assert got.status == "SUCCESS" and got.finish_time is not None and got.substitutions["_TYPE"] == "rc"
    assert runner.cancel(release.id).status == "CANCELLED"
    listed = runner.list_jobs(tags=("release-1.30",))
    assert {j.id for j in listed} == {stage.id, release.id}
    assert cloudbuild_stub.requests[-1][2]["filter"] == 'tags="release-1.30"'
    # Paging through nextPageToken, newest first, stopping at the limit.
    assert len(runner.list_jobs(limit=2)) == 2
    assert [j.id for j in runner.list_jobs(tags=("STAGE", "release-1.30"))] == [stage.id]


def test_missing_build_is_one_line_error(cloudbuild_stub: CloudBuildStub) -> None:
    runner = CloudBuildRunner("p", api_endpoint=cloudbuild_stub.endpoint)
    with pytest.raises(ReleaseError, match=r"^Cloud Build project p: cannot get build nope: .*build nope not found$"):
        runner.get("nope")


def test_unreachable_endpoint_is_one_line_error() -> None:
    runner = CloudBuildRunner("p", api_endpoint="http://127.0.0.1:9")
    with pytest.raises(ReleaseError, match=r"^Cloud Build project p: cannot list builds: "):
        runner.list_jobs()


def test_no_credentials_names_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    with pytest.raises(ReleaseError) as exc:
        CloudBuildRunner("k8s-release")
    assert "Application Default Credentials" in str(exc.value)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(exc.value)


def test_stream_reads_the_log_object_as_it_grows(cloudbuild_stub: CloudBuildStub, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    cloudbuild_stub.logs_bucket = logs.as_uri()
    runner = CloudBuildRunner("p", api_endpoint=cloudbuild_stub.endpoint)
    job = runner.submit(_request())
    log = logs / f"log-{job.id}.txt"

    def build() -> None:
        log.write_text("Step #0: cloning\n")
        time.sleep(0.3)
        log.write_text("Step #0: cloning\nStep #2: krel release done\n")
        time.sleep(0.2)
        cloudbuild_stub.finish(job.id, "FAILURE")

    worker = threading.Thread(target=build)
    worker.start()
    out: list[str] = []
    final = runner.stream(job.id, out.append, poll_s=0.05)
    worker.join()
    assert final.status == "FAILURE"
    assert "".join(out) == "Step #0: cloning\nStep #2: krel release done\n"


def test_stream_without_readable_logs_says_where_they_are(cloudbuild_stub: CloudBuildStub) -> None:
    runner = CloudBuildRunner("p", api_endpoint=cloudbuild_stub.endpoint)
    job = runner.submit(_request())
    cloudbuild_stub.finish(job.id)
    out: list[str] = []
    assert runner.stream(job.id, out.append, poll_s=0.01).status == "SUCCESS"
    assert out == [f"build {job.id} has no logsBucket; its log is at {runner.get(job.id).log_url}\n"]


def test_history_filters_by_branch_and_dates(cloudbuild_stub: CloudBuildStub) -> None:
    subs = {"_TYPE": "rc", "_RELEASE_BRANCH": "release-1.19", "_BUILDVERSION": "v1.19.0-rc.0.1+abcdef0123456"}
    for day, kind, nomock in ((17, "STAGE", ""), (18, "STAGE", ""), (18, "RELEASE", "--nomock"), (20, "STAGE", "")):
        build = cloudbuild_stub.add_build(
            "k8s",
            tags=[kind, "release-1.19"],
            substitutions={**subs, "_NOMOCK": nomock},
            createTime=f"2020-06-{day}T10:00:00Z",
        )
        cloudbuild_stub.finish(build["id"], "SUCCESS", f"2020-06-{day}T10:00:05Z", f"2020-06-{day}T10:44:05Z")
    cloudbuild_stub.add_build("k8s", tags=["STAGE", "release-1.18"], createTime="2020-06-18T11:00:00Z")
    runner = CloudBuildRunner("k8s", api_endpoint=cloudbuild_stub.endpoint)
    rows = history(runner, "release-1.19", "2020-06-18")
    assert cloudbuild_stub.requests[-1][2]["filter"] == (
        'tags="release-1.19" create_time>"2020-06-18T00:00:00.000Z" create_time<"2020-06-19T00:00:00.000Z"'
    )
    assert [(r.step, r.start, r.duration, r.succeeded) for r in rows] == [
        ("`mock stage`", "2020-06-18T10:00:05.00Z", "00:44:00", "Yes"),
        ("`release`", "2020-06-18T10:00:05.00Z", "00:44:00", "Yes"),
    ]
    assert "`krel release --type rc --branch release-1.19 --build-version v1.19.0-rc.0.1+abcdef0123456 --nomock`" in (
        render_history(rows)
    )
    assert len(history(runner, "release-1.19", "2020-06-17", "2020-06-20")) == 4
    assert datetime(2020, 6, 18, tzinfo=UTC)  # dates are UTC days


def test_stream_reads_a_gs_logs_bucket_through_the_object_store(
    cloudbuild_stub: CloudBuildStub, gcs_bucket: str, gcs_emulator: object
) -> None:
    cloudbuild_stub.logs_bucket = gcs_bucket
    runner = CloudBuildRunner("p", api_endpoint=cloudbuild_stub.endpoint)
    job = runner.submit(_request())
    client = gcs_emulator.client()  # type: ignore[attr-defined]
    bucket = client.bucket(gcs_bucket.removeprefix("gs://"))
    bucket.blob(f"log-{job.id}.txt").upload_from_string("Step #2 - \"krel-release\": released\n")
    cloudbuild_stub.finish(job.id, "SUCCESS")
    out: list[str] = []
    assert runner.stream(job.id, out.append, poll_s=0.01).status == "SUCCESS"
    assert out == ['Step #2 - "krel-release": released\n']


def test_retry_is_a_new_build_with_the_same_request(cloudbuild_stub: CloudBuildStub) -> None:
    runner = CloudBuildRunner("p", api_endpoint=cloudbuild_stub.endpoint)
    first = runner.submit(_request())
    cloudbuild_stub.finish(first.id, "FAILURE")
    again = runner.retry(first.id)
    assert again.id != first.id and again.status == "QUEUED"
    assert again.substitutions == first.substitutions and again.tags == first.tags
    assert cloudbuild_stub.requests[-1][:2] == ("POST", f"/v1/projects/p/builds/{first.id}:retry")
