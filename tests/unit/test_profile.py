from pathlib import Path

import pytest
from releng.errors import UsageError
from releng.profile import builtin_names, load_profile

VARS = {"krel_home": "/tmp/kh", "local_registry": "127.0.0.1:5999"}


def test_builtin_profiles_load() -> None:
    assert {"kubernetes", "local"} <= set(builtin_names())
    k8s = load_profile("kubernetes", VARS)
    assert k8s.targets(nomock=False).bucket == "gs://5d7373bbdcb8270361b96548387bf2a9ad0d48758c35"
    assert k8s.targets(nomock=True).bucket == "gs://767373bbdcb8270361b96548387bf2a9ad0d48758c35"
    assert k8s.targets(nomock=True).validate_registry == "registry.k8s.io"
    assert k8s.mock.mail_to == ("kubernetes-announce-test@googlegroups.com",)
    assert k8s.nomock.mail_to == ("kubernetes-announce@googlegroups.com", "dev@kubernetes.io")
    assert k8s.git_author.email == "k8s-release-robot@users.noreply.github.com"


def test_local_profile_expands_placeholders() -> None:
    local = load_profile("local", VARS)
    assert local.mock.bucket == "file:///tmp/kh/buckets/mock"
    assert local.nomock.registry == "127.0.0.1:5999/staging"
    assert local.mock.git_push == "dry-run" and local.nomock.git_push == "push"


def _write(tmp_path: Path, text: str) -> Path:
    base = (Path(__file__).parents[2] / "lib/releng/profiles/local.toml").read_text()
    p = tmp_path / "p.toml"
    p.write_text(text(base) if callable(text) else text)
    return p


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: b.replace("[mock]\nbucket", "[mock]\nbukket"), "unknown key mock.bukket; did you mean 'bucket'"),
        (lambda b: b.replace('min_free_gib = 1', 'min_free_gib = "one"'), "build.min_free_gib must be int"),
        (lambda b: b.replace('git_push = "dry-run"', 'git_push = "maybe"'), "mock.git_push must be one of"),
        (lambda b: b.replace('ci_bucket = "file://{krel_home}/buckets/ci"\n', ""), "missing required key ci_bucket"),
        (lambda b: b.replace("buckets/mock\"", "buckets/release\""), "must not reach production: mock.bucket"),
        (lambda b: b.replace('"release-test@localhost"', '"announce@localhost"'), "mail list announce@localhost"),
        (lambda b: b.replace('git_push = "dry-run"', 'git_push = "push"'), "git_push = 'push' in mock"),
        (lambda b: b.replace("{krel_home}/outbox", "{nope}/outbox"), "unknown placeholder {nope}"),
        (lambda b: b + "\n[[broken", "not valid TOML"),
    ],
)
def test_bad_profiles_name_file_and_key(tmp_path: Path, edit: object, message: str) -> None:
    path = _write(tmp_path, edit)
    with pytest.raises(UsageError) as err:
        load_profile(path, VARS)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_unknown_builtin_suggests() -> None:
    with pytest.raises(UsageError, match="did you mean 'local'"):
        load_profile("locl", VARS)


def test_release_download_url_follows_krel_url_prefix() -> None:
    k8s = load_profile("kubernetes", VARS)
    assert k8s.nomock.release_download_url() == "https://dl.k8s.io"
    assert k8s.mock.release_download_url() == "https://storage.googleapis.com/5d7373bbdcb8270361b96548387bf2a9ad0d48758c35/release"
    assert load_profile("local", VARS).nomock.release_download_url() == "file:///tmp/kh/buckets/release/release"
