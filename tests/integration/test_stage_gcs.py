"""The same stage + release against gs:// buckets: the real google-cloud-storage client and the GCS emulator."""

from __future__ import annotations

from typing import Any

from releng.profile import BUILTIN_DIR

from tests.fixtures.releaseflow import FlowEnv


def test_stage_and_release_to_gcs(flow_env: FlowEnv, gcs_emulator: Any) -> None:
    mock, release = gcs_emulator.new_bucket("krel-mock"), gcs_emulator.new_bucket("krel-release")
    text = (BUILTIN_DIR / "local.toml").read_text()
    text = text.replace('bucket = "file://{krel_home}/buckets/mock"', f'bucket = "{mock}/dl"')
    text = text.replace('bucket = "file://{krel_home}/buckets/release"', f'bucket = "{release}/dl"')
    profile = flow_env.home / "gcs.toml"
    profile.write_text(text)
    env = {"STORAGE_EMULATOR_HOST": gcs_emulator.host}
    args = ["--branch", "master", "--type", "alpha", "--profile", str(profile)]

    staged = flow_env.krel("stage", *args, extra_env=env)
    assert staged.returncode == 0, staged.stderr[-2000:]
    released = flow_env.krel("release", *args, "--build-version", flow_env.build_version, extra_env=env)
    assert released.returncode == 0, released.stderr[-2000:]

    bucket = gcs_emulator.client().bucket(mock.removeprefix("gs://"))
    names = {blob.name for blob in bucket.list_blobs(prefix="dl/")}
    bv = flow_env.build_version
    assert {f"dl/stage/{bv}/src.tar.gz", f"dl/stage/{bv}/provenance.json",
            f"dl/stage/{bv}/v1.0.0-alpha.1/gcs-stage/v1.0.0-alpha.1/SHA512SUMS",
            "dl/release/v1.0.0-alpha.1/SHA512SUMS", "dl/release/v1.0.0-alpha.1/bin/linux/arm64/democtl"} <= names
    assert bucket.blob("dl/release/latest-1.0.txt").download_as_bytes() == b"v1.0.0-alpha.1"
    assert not list(gcs_emulator.client().bucket(release.removeprefix("gs://")).list_blobs())
    assert not (flow_env.home / "buckets" / "mock").exists()
