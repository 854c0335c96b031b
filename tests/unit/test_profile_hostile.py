"""Profiles are untrusted input: aliases of production targets, injection values and malformed fields are refused on
load with one line naming the file and the key; a benign twin of each tricky case still loads."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from releng import address
from releng.errors import UsageError
from releng.names import InvalidValue
from releng.profile import BUILTIN_DIR, Profile, load_profile

PORT = "127.0.0.1:5999"
SECRET = "s3cretpw"
MOCK_BUCKET = 'bucket = "file://{krel_home}/buckets/mock"'
NOMOCK_BUCKET = 'bucket = "file://{krel_home}/buckets/release"'
MOCK_REGISTRY = 'registry = "{local_registry}/mock"'
MOCK_VALIDATE = 'validate_registry = "{local_registry}/mock"'
NOMOCK_REGISTRY = 'registry = "{local_registry}/staging"'
NOMOCK_VALIDATE = 'validate_registry = "{local_registry}/staging"'
MOCK_MAIL = 'mail_to = ["release-test@localhost"]'

Edit = tuple[str, str]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A KREL_HOME with real bucket directories (symlinks are resolved against the file system)."""
    root = tmp_path / "home"
    for name in ("mock", "release"):
        (root / "buckets" / name).mkdir(parents=True)
    (root / "buckets" / "alias").symlink_to(root / "buckets" / "release")
    (root / "links").symlink_to(root / "buckets")
    return root


def _load(home: Path, *edits: Edit, text: str | None = None) -> Profile:
    body = text if text is not None else (BUILTIN_DIR / "local.toml").read_text()
    for old, new in edits:
        assert old in body, old
        body = body.replace(old, new, 1)
    path = home / "hostile.toml"
    path.write_text(body)
    return load_profile(path, {"krel_home": str(home), "local_registry": PORT})


def _refused(home: Path, edits: tuple[Edit, ...], message: str) -> str:
    with pytest.raises(UsageError) as err:
        _load(home, *edits)
    line = str(err.value)
    assert line.startswith(f"profile {home / 'hostile.toml'}: "), line
    assert message in line, line
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert err.value.exit_code == 2
    return line


def _mock(old: str, new: str) -> Edit:
    """An edit of a [mock] line (its first occurrence in local.toml is in [mock])."""
    return old, new


def _nomock(old: str, new: str) -> Edit:
    """An edit of a [nomock] line (the NOMOCK_* lines occur only in [nomock])."""
    return old, new


PRODUCTION = "must not reach production"

# --- class 1: a mock bucket that names the production bucket, or lies inside/around it --------------------------
BUCKET_ALIASES = {
    "double-slash": (_mock(MOCK_BUCKET, 'bucket = "file://{krel_home}//buckets//release"'),),
    "trailing-slash": (_mock(MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets/release/"'),),
    "dot-dot": (_mock(MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets/mock/../release"'),),
    "dot": (_mock(MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets/./release"'),),
    "symlink-to-release": (_mock(MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets/alias"'),),
    "symlinked-parent": (_mock(MOCK_BUCKET, 'bucket = "file://{krel_home}/links/release"'),),
    "percent-encoded": (_mock(MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets/%72elease"'),),
    "file-localhost": (_mock(MOCK_BUCKET, 'bucket = "file://localhost{krel_home}/buckets/release"'),),
    "upper-case-scheme": (_mock(MOCK_BUCKET, 'bucket = "FILE://{krel_home}/buckets/release"'),),
    "inside-production": (_mock(MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets/release/mock"'),),
    "contains-production": (_mock(MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets"'),),
    "gs-trailing-slash": (_mock(MOCK_BUCKET, 'bucket = "gs://krel-prod/dl/"'),
                          _nomock(NOMOCK_BUCKET, 'bucket = "gs://krel-prod/dl"')),
    "gs-leading-double-slash": (_mock(MOCK_BUCKET, 'bucket = "gs://krel-prod//dl"'),
                                _nomock(NOMOCK_BUCKET, 'bucket = "gs://krel-prod/dl"')),
    "gs-inside": (_mock(MOCK_BUCKET, 'bucket = "gs://krel-prod/dl/mock"'),
                  _nomock(NOMOCK_BUCKET, 'bucket = "gs://krel-prod/dl"')),
    "gs-whole-bucket": (_mock(MOCK_BUCKET, 'bucket = "gs://krel-prod"'),
                        _nomock(NOMOCK_BUCKET, 'bucket = "gs://krel-prod/dl"')),
}


@pytest.mark.parametrize("edits", BUCKET_ALIASES.values(), ids=BUCKET_ALIASES.keys())
def test_mock_bucket_aliasing_production_is_refused(home: Path, edits: tuple[Edit, ...]) -> None:
    _refused(home, edits, f"{PRODUCTION}: mock.bucket")


BAD_BUCKETS = {
    "gs-dot-dot": ('bucket = "gs://krel-prod/mock/../dl"', "without empty, '.' or '..' parts"),
    "gs-inner-empty": ('bucket = "gs://krel-prod/a//dl"', "without empty, '.' or '..' parts"),
    "gs-upper-case": ('bucket = "gs://Krel-Prod/dl"', "is not a bucket name"),
    "gs-port": ('bucket = "gs://krel-prod:443/dl"', "is not a bucket name"),
    "query": ('bucket = "file://{krel_home}/buckets/mock?x=1"', "no ?query or #fragment"),
    "fragment": ('bucket = "file://{krel_home}/buckets/mock#x"', "no ?query or #fragment"),
    "relative-file": ('bucket = "file://buckets/mock"', "expected file:///absolute/path"),
    "s3-scheme": ('bucket = "s3://krel/mock"', "expected file:///absolute/path or gs://bucket"),
    "percent-nul": ('bucket = "file://{krel_home}/buckets/mock%00x"', "NUL"),
}


@pytest.mark.parametrize(("value", "message"), BAD_BUCKETS.values(), ids=BAD_BUCKETS.keys())
def test_malformed_bucket_is_refused(home: Path, value: str, message: str) -> None:
    line = _refused(home, (_mock(MOCK_BUCKET, value),), message)
    assert ": mock.bucket: " in line


# --- class 2: a mock registry that names a production registry target -------------------------------------------
def _mock_registry(value: str) -> tuple[Edit, ...]:
    return (_mock(MOCK_REGISTRY, f'registry = "{value}"'),)


REGISTRY_ALIASES = {
    "localhost": _mock_registry("localhost:5999/staging"),
    "ipv6-loopback": _mock_registry("[::1]:5999/staging"),
    "other-127": _mock_registry("127.0.0.2:5999/staging"),
    "unspecified": _mock_registry("0.0.0.0:5999/staging"),
    "short-ipv4": _mock_registry("127.1:5999/staging"),
    "decimal-ipv4": _mock_registry("2130706433:5999/staging"),
    "hex-ipv4": _mock_registry("0x7f000001:5999/staging"),
    "ipv4-mapped-ipv6": _mock_registry("[::ffff:127.0.0.1]:5999/staging"),
    "upper-case-host": _mock_registry("LOCALHOST:5999/staging"),
    "trailing-dot-host": _mock_registry("localhost.:5999/staging"),
    "dot-localhost": _mock_registry("registry.localhost:5999/staging"),
    "leading-zero-port": _mock_registry("127.0.0.1:05999/staging"),
    "trailing-slash": _mock_registry("127.0.0.1:5999/staging/"),
    "contains-production": _mock_registry("127.0.0.1:5999"),
    "contains-production-alias": _mock_registry("LOCALHOST:5999"),
    "validate-registry-alias": (_mock(MOCK_VALIDATE, 'validate_registry = "localhost:5999/staging"'),),
    "nomock-validate-registry": (_nomock(NOMOCK_VALIDATE, 'validate_registry = "{local_registry}/prod"'),
                                 _mock(MOCK_REGISTRY, 'registry = "[::1]:5999/prod"')),
    "explicit-default-port": (_mock(MOCK_REGISTRY, 'registry = "gcr.io:443/k8s-staging"'),
                              _nomock(NOMOCK_REGISTRY, 'registry = "gcr.io/k8s-staging"')),
    "host-case-and-dot": (_mock(MOCK_REGISTRY, 'registry = "GCR.IO./k8s-staging"'),
                          _nomock(NOMOCK_REGISTRY, 'registry = "gcr.io/k8s-staging"')),
}


@pytest.mark.parametrize("edits", REGISTRY_ALIASES.values(), ids=REGISTRY_ALIASES.keys())
def test_mock_registry_aliasing_production_is_refused(home: Path, edits: tuple[Edit, ...]) -> None:
    line = _refused(home, edits, PRODUCTION)
    assert "registry" in line.split(PRODUCTION)[1]


def test_krel_layout_mock_registry_below_production_loads() -> None:
    # krel's GCRIOPathMock: mock images at gcr.io/k8s-staging-kubernetes/mock/<image>, never a production repository.
    profile = load_profile("kubernetes")
    assert profile.mock.registry == "gcr.io/k8s-staging-kubernetes/mock"
    assert profile.nomock.registry == "gcr.io/k8s-staging-kubernetes"


BAD_REGISTRIES = {
    "dot-dot": ("127.0.0.1:5999/mock/../staging", "no empty, '.' or '..' segments"),
    "dot": ("127.0.0.1:5999/./staging", "no empty, '.' or '..' segments"),
    "empty-segment": ("127.0.0.1:5999//staging", "no empty, '.' or '..' segments"),
    "upper-case-path": ("127.0.0.1:5999/Staging", "lower-case names"),
    "scheme": ("https://127.0.0.1:5999/mock", "without a scheme"),
    "space": ("127.0.0.1:5999/mo ck", "ASCII without spaces"),
    "unicode-host": ("ⅼocalhost:5999/mock", "ASCII without spaces"),
    "port-zero": ("127.0.0.1:0/mock", "from 1 to 65535"),
    "port-too-big": ("127.0.0.1:65536/mock", "from 1 to 65535"),
    "port-empty": ("127.0.0.1:/mock", "empty port"),
    "unclosed-ipv6": ("[::1:5999/mock", "expected [IPv6]:PORT"),
    "underscore-host": ("reg_istry.io/mock", "is not a host name"),
    "option-host": ("-oops/mock", "is not a host name"),
    "tag-in-path": ("127.0.0.1:5999/mock:latest", "lower-case names"),
}


@pytest.mark.parametrize(("value", "message"), BAD_REGISTRIES.values(), ids=BAD_REGISTRIES.keys())
def test_malformed_registry_is_refused(home: Path, value: str, message: str) -> None:
    _refused(home, _mock_registry(value), f"mock.registry: {value!r}")
    _refused(home, _mock_registry(value), message)


# --- class 3: a mock mailing list that is the production list, and malformed addresses ---------------------------
MAIL_ALIASES = {
    "upper-local": 'mail_to = ["ANNOUNCE@localhost"]',
    "upper-domain": 'mail_to = ["announce@LOCALHOST"]',
    "mixed-case": 'mail_to = ["release-test@localhost", "Dev@LocalHost"]',
}


@pytest.mark.parametrize("value", MAIL_ALIASES.values(), ids=MAIL_ALIASES.keys())
def test_mock_mail_list_in_another_case_is_refused(home: Path, value: str) -> None:
    _refused(home, (_mock(MOCK_MAIL, value),), f"{PRODUCTION}: mail list ")


BAD_MAIL = {
    "display-name": ('mail_to = ["Evil <announce@localhost>"]', "mock.mail_to"),
    "quoted-display-name": ('mail_to = ["\\"a\\" <x@localhost>"]', "mock.mail_to"),
    "two-in-one": ('mail_to = ["a@localhost, announce@localhost"]', "mock.mail_to"),
    "crlf-bcc": ('mail_to = ["a@localhost\\r\\nBcc: announce@localhost"]', "control character U+000D"),
    "option-like": ('mail_to = ["-oQ/tmp/x@localhost"]', "mock.mail_to"),
    "no-domain": ('mail_to = ["announce"]', "mock.mail_to"),
    "double-dot": ('mail_to = ["a..b@localhost"]', "mock.mail_to"),
}


@pytest.mark.parametrize(("value", "message"), BAD_MAIL.values(), ids=BAD_MAIL.keys())
def test_malformed_mail_to_is_refused(home: Path, value: str, message: str) -> None:
    _refused(home, (_mock(MOCK_MAIL, value),), message)


BAD_SENDERS = {
    "from-display-name": (('from_email = "release-managers@localhost"', 'from_email = "RM <rm@localhost>"'),
                          "mail.from_email"),
    "from-two": (('from_email = "release-managers@localhost"', 'from_email = "a@localhost,b@localhost"'),
                 "mail.from_email"),
    "from-crlf": (('from_email = "release-managers@localhost"', 'from_email = "a@localhost\\nBcc: b@x.org"'),
                  "mail.from_email: contains control character U+000A"),
    "from-empty": (('from_email = "release-managers@localhost"', 'from_email = ""'), "mail.from_email"),
    "from-name-brackets": (('from_name = "Demo Release Managers"', 'from_name = "RM <ceo@example.org>"'),
                           "mail.from_name"),
    "author-email": (('email = "release-robot@localhost"', 'email = "robot@localhost>"'), "git_author.email"),
}


@pytest.mark.parametrize(("edit", "message"), BAD_SENDERS.values(), ids=BAD_SENDERS.keys())
def test_malformed_sender_is_refused(home: Path, edit: Edit, message: str) -> None:
    _refused(home, (edit,), message)


# --- class 4: credentials and '@' tricks in addresses; the password is never echoed ------------------------------
CREDENTIALS = {
    "registry-userinfo": _mock_registry(f"user:{SECRET}@127.0.0.1:5999/mock"),
    "registry-at-trick": _mock_registry(f"127.0.0.1:{SECRET}@evil.example/mock"),
    "nomock-registry-userinfo": (_nomock(NOMOCK_REGISTRY, f'registry = "user:{SECRET}@127.0.0.1:5999/staging"'),),
    "gs-userinfo": (_mock(MOCK_BUCKET, f'bucket = "gs://user:{SECRET}@krel-mock/dl"'),),
    "file-userinfo": (_mock(MOCK_BUCKET, f'bucket = "file://user:{SECRET}@/tmp/mock"'),),
    "ci-bucket-userinfo": (('ci_bucket = "file://{krel_home}/buckets/ci"', f'ci_bucket = "gs://u:{SECRET}@krel-ci"'),),
    "upstream-password": (('url = "file://{krel_home}/demo/upstream.git"',
                           f'url = "https://user:{SECRET}@github.com/demo/demo"'),),
    "link-password": (('cherry_picks = "https://git.k8s.io', f'cherry_picks = "https://u:{SECRET}@git.k8s.io'),),
}


@pytest.mark.parametrize("edits", CREDENTIALS.values(), ids=CREDENTIALS.keys())
def test_credentials_are_refused_without_echoing_them(home: Path, edits: tuple[Edit, ...]) -> None:
    line = _refused(home, edits, "***@")
    assert SECRET not in line and "user:" not in line


# --- class 5: option injection and names git/GitHub/Cloud Build would misread ------------------------------------
UPSTREAM_URL = 'url = "file://{krel_home}/demo/upstream.git"'
INJECTION = {
    "url-upload-pack": ((UPSTREAM_URL, 'url = "--upload-pack=touch /tmp/pwned"'), "upstream.url"),
    "url-ext-transport": ((UPSTREAM_URL, 'url = "ext::sh -c touch% /tmp/pwned"'), "remote-helper"),
    "url-ssh-proxycommand": ((UPSTREAM_URL, 'url = "ssh://-oProxyCommand=touch%20x/repo"'), "with a host name"),
    "url-scp-option-path": ((UPSTREAM_URL, 'url = "host:-x"'), "upstream.url"),
    "url-relative": ((UPSTREAM_URL, 'url = "../upstream.git"'), "upstream.url"),
    "url-unknown-scheme": ((UPSTREAM_URL, 'url = "fd::3"'), "remote-helper"),
    "remote-option": (('default_branch = "master"', 'default_branch = "master"\nremote = "--mirror"'),
                      "upstream.remote"),
    "branch-option": (('default_branch = "master"', 'default_branch = "--delete"'), "upstream.default_branch"),
    "branch-dot-dot": (('default_branch = "master"', 'default_branch = "master..x"'), "git ref name"),
    "branch-space": (('default_branch = "master"', 'default_branch = "a b"'), "upstream.default_branch"),
    "branch-lock": (('default_branch = "master"', 'default_branch = "main.lock"'), "git ref name"),
    "branch-at": (('default_branch = "master"', 'default_branch = "@"'), "git ref name"),
    "org-option": (('org = "demo"', 'org = "-demo"'), "upstream.org"),
    "org-slash": (('org = "demo"', 'org = "demo/../x"'), "upstream.org"),
    "org-double-hyphen": (('org = "demo"', 'org = "de--mo"'), "upstream.org"),
    "repo-dot-dot": (('repo = "demo"', 'repo = ".."'), "upstream.repo"),
    "repo-slash": (('repo = "demo"', 'repo = "demo/x"'), "upstream.repo"),
    "repo-option": (('repo = "demo"', 'repo = "--x"'), "upstream.repo"),
    "tool-ref-option": (('timeout_s = 3600', 'timeout_s = 3600\ntool_ref = "--upload-pack=x"'), "gcb.tool_ref"),
    "tool-org-option": (('timeout_s = 3600', 'timeout_s = 3600\ntool_org = "-x"'), "gcb.tool_org"),
    "machine-type-option": (('timeout_s = 3600', 'timeout_s = 3600\nmachine_type = "--x"'), "gcb.machine_type"),
    "private-pool-space": (('timeout_s = 3600', 'timeout_s = 3600\nprivate_pool = "a b"'), "gcb.private_pool"),
    "secret-no-env": (('timeout_s = 3600', 'timeout_s = 3600\nsecrets = ["github-token"]'), "gcb.secrets"),
    "secret-shell": (('timeout_s = 3600', 'timeout_s = 3600\nsecrets = ["a=B;rm -rf /"]'), "gcb.secrets"),
    "project-option": (('gcb_project = "local"', 'gcb_project = "--project=x"'), "mock.gcb_project"),
    "fastly-option": (('gcb_project = "local"', 'gcb_project = "local"\nfastly_service = "-x"'), "fastly_service"),
    "smtp-host-option": (('transport = "outbox"', 'transport = "outbox"\nsmtp_host = "-oX"'), "mail.smtp_host"),
    "arch-traversal": (('arches = ["amd64", "arm64"]', 'arches = ["amd64", "../../x"]'), "build.arches"),
    "image-traversal": (('images = ["demo-server"]', 'images = ["../demo-server"]'), "build.images"),
    "image-nested": (('images = ["demo-server"]', 'images = ["a/demo-server"]'), "build.images"),
    "name-traversal": (('name = "local"', 'name = "../../etc"'), "name:"),
}


@pytest.mark.parametrize(("edit", "message"), INJECTION.values(), ids=INJECTION.keys())
def test_injection_values_are_refused(home: Path, edit: Edit, message: str) -> None:
    _refused(home, (edit,), message)


# --- class 6: control characters in any string field but build.command ------------------------------------------
CONTROL = {
    "product-lf": (('product = "Demo"', 'product = "Demo\\nX-Injected: 1"'), "product: contains control character"),
    "product-cr": (('product = "Demo"', 'product = "Demo\\r"'), "product: contains control character U+000D"),
    "product-esc": (('product = "Demo"', 'product = "\\u001b[31mDemo"'), "product: contains control character U+001B"),
    "product-nul": (('product = "Demo"', 'product = "De\\u0000mo"'), "product: contains control character U+0000"),
    "product-bidi": (('product = "Demo"', 'product = "De\\u202emo"'), "product: contains control character U+202E"),
    "product-line-separator": (('product = "Demo"', 'product = "De\\u2028mo"'), "control character U+2028"),
    "from-name-crlf": (('from_name = "Demo Release Managers"', 'from_name = "RM\\r\\nBcc: x@y.org"'),
                       "mail.from_name: contains control character U+000D"),
    "link-lf": (('cherry_picks = "https://git.k8s.io', 'cherry_picks = "https://git.k8s.io\\n'),
                "links.cherry_picks: contains control character"),
    "bucket-esc": ((MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets/\\u001bmock"'), "mock.bucket: contains control"),
    "remote-nul": (('default_branch = "master"', 'default_branch = "master"\nremote = "ori\\u0000gin"'),
                   "upstream.remote: contains control character U+0000"),
    "outbox-lf": (('outbox = "{krel_home}/outbox"', 'outbox = "{krel_home}/out\\nbox"'), "mail.outbox: contains"),
    "smtp-user-crlf": (('transport = "outbox"', 'transport = "outbox"\nsmtp_user = "u\\r\\nAUTH x"'),
                       "mail.smtp_user: contains control"),
    "mail-tab": ((MOCK_MAIL, 'mail_to = ["a@localhost\\t"]'), "mock.mail_to: contains control character U+0009"),
    "unknown-key-esc": (('[gcb]', '[gcb]\n"\\u001b[2J" = 1'), "unknown key gcb.'\\x1b[2J'"),
}


@pytest.mark.parametrize(("edit", "message"), CONTROL.values(), ids=CONTROL.keys())
def test_control_characters_are_refused(home: Path, edit: Edit, message: str) -> None:
    _refused(home, (edit,), message)


def test_build_command_is_a_shell_command_by_design(home: Path) -> None:
    profile = _load(home, ('command = "./build.sh"', 'command = "./build.sh\\n./check.sh --all"'))
    assert profile.build.command == "./build.sh\n./check.sh --all"


# --- class 7: build.output_dir outside the work tree -------------------------------------------------------------
OUTPUT_DIRS = {
    "absolute": '"/tmp/victim"',
    "dot-dot": '"../victim"',
    "inner-dot-dot": '"_output/../../victim"',
    "empty": '""',
    "dot": '"."',
    "dot-slash": '"./"',
    "option": '"-rf"',
    "backslash": '"..\\\\victim"',
}


@pytest.mark.parametrize("value", OUTPUT_DIRS.values(), ids=OUTPUT_DIRS.keys())
def test_output_dir_outside_the_work_tree_is_refused(home: Path, value: str) -> None:
    _refused(home, (('output_dir = "_output"', f"output_dir = {value}"),), "build.output_dir: ")


# --- class 8: gcb.builder_image --------------------------------------------------------------------------------
BUILDER_IMAGES = {
    "newline": ('"gcr.io/x/builder\\nevil: 1"', "control character U+000A"),
    "trailing-newline": ('"gcr.io/x/builder:v1\\n"', "control character U+000A"),
    "space": ('"gcr.io/x/builder latest"', "must not contain whitespace"),
    "no-registry": ('"builder"', "expected REGISTRY/REPO"),
    "bad-digest": ('"gcr.io/x/builder@sha256:zz"', "digest must be sha256"),
    "option": ('"--entrypoint=sh"', "gcb.builder_image"),
}


@pytest.mark.parametrize(("value", "message"), BUILDER_IMAGES.values(), ids=BUILDER_IMAGES.keys())
def test_bad_builder_image_is_refused(home: Path, value: str, message: str) -> None:
    line = _refused(home, (('timeout_s = 3600', f"timeout_s = 3600\nbuilder_image = {value}"),), message)
    assert "gcb.builder_image: " in line


# --- class 9: links ---------------------------------------------------------------------------------------------
CHERRY = 'cherry_picks = "https://git.k8s.io/community/contributors/devel/sig-release/cherry-picks.md"'
LINKS = {
    "javascript": ((CHERRY, 'cherry_picks = "javascript:alert(1)"'), "links.cherry_picks"),
    "javascript-upper": ((CHERRY, 'cherry_picks = "JavaScript:alert(1)"'), "must start with https:"),
    "data": ((CHERRY, 'cherry_picks = "data:text/html,<b>x</b>"'), "must start with https:"),
    "vbscript": ((CHERRY, 'cherry_picks = "vbscript:msgbox"'), "must start with https:"),
    "scheme-relative": ((CHERRY, 'cherry_picks = "//evil.example/x"'), "must start with https:"),
    "quote": ((CHERRY, 'cherry_picks = "https://x.example/\\" onmouseover=\\"alert(1)"'), "quotes"),
    "angle": ((CHERRY, 'cherry_picks = "https://x.example/<script>"'), "brackets"),
    "space": ((CHERRY, 'cherry_picks = "https://x.example/a b"'), "spaces"),
    "backtick": ((CHERRY, 'cherry_picks = "https://x.example/`x`"'), "quotes"),
    "no-host": ((CHERRY, 'cherry_picks = "https:evil"'), "expected https://host"),
    "download-url": (('download_url = "file://{krel_home}/buckets/mock"', 'download_url = "javascript:x"'),
                     "mock.download_url"),
    "download-url-empty": (('download_url = "file://{krel_home}/buckets/mock"', 'download_url = ""'),
                           "mock.download_url: must not be empty"),
    "release-url": (('github_release = "render"', 'github_release = "render"\nrelease_url = "ftp://x.example/"'),
                    "mock.release_url"),
}


@pytest.mark.parametrize(("edit", "message"), LINKS.values(), ids=LINKS.keys())
def test_bad_links_are_refused(home: Path, edit: Edit, message: str) -> None:
    _refused(home, (edit,), message)


# --- not UTF-8 ---------------------------------------------------------------------------------------------------
def test_profile_not_utf8_is_one_line(home: Path) -> None:
    path = home / "latin1.toml"
    path.write_bytes((BUILTIN_DIR / "local.toml").read_bytes().replace(b'"Demo"', b'"D\xe9mo"'))
    with pytest.raises(UsageError) as err:
        load_profile(path, {"krel_home": str(home), "local_registry": PORT})
    assert str(path) in str(err.value) and "UTF-8" in str(err.value) and "\n" not in str(err.value)


# --- the benign twins: each of these must keep loading ------------------------------------------------------------
BENIGN: dict[str, tuple[Edit, ...]] = {
    "other-port-same-path": _mock_registry("localhost:6000/staging"),
    "sibling-path": _mock_registry("127.0.0.1:5999/staging-mock"),
    "sibling-bucket": (_mock(MOCK_BUCKET, 'bucket = "file://{krel_home}/buckets/release-mock"'),),
    "gs-sibling-prefix": (_mock(MOCK_BUCKET, 'bucket = "gs://krel-prod/dl-mock"'),
                          _nomock(NOMOCK_BUCKET, 'bucket = "gs://krel-prod/dl"')),
    "other-list": (_mock(MOCK_MAIL, 'mail_to = ["Release-Test@LOCALHOST"]'),),
    "scp-upstream": ((UPSTREAM_URL, 'url = "git@github.com:demo/demo.git"'),),
    "ssh-user-upstream": ((UPSTREAM_URL, 'url = "ssh://git@github.com/demo/demo.git"'),),
    "nested-output-dir": (('output_dir = "_output"', 'output_dir = "out/_output"'),),
    "mailto-link": ((CHERRY, 'cherry_picks = "mailto:release-managers@kubernetes.io"'),),
    "builder-image-digest": (('timeout_s = 3600', f'timeout_s = 3600\nbuilder_image = "gcr.io/b@sha256:{"a" * 64}"'),),
}


@pytest.mark.parametrize("edits", BENIGN.values(), ids=BENIGN.keys())
def test_benign_twins_still_load(home: Path, edits: tuple[Edit, ...]) -> None:
    _load(home, *edits)


def test_krel_home_with_spaces_still_loads(tmp_path: Path) -> None:
    home = tmp_path / "my krel home"
    home.mkdir()
    profile = load_profile("local", {"krel_home": str(home), "local_registry": PORT})
    assert profile.mock.bucket == f"file://{home}/buckets/mock"


def test_builtin_profiles_keep_mock_off_production() -> None:
    k8s = load_profile("kubernetes")
    mock, nomock = address.registry_place(k8s.mock.registry), address.registry_place(k8s.nomock.registry)
    assert mock.below(nomock) and not nomock.below(mock) and mock != nomock
    assert not address.bucket_place(k8s.mock.bucket).overlaps(address.bucket_place(k8s.nomock.bucket))


# --- the canonical forms themselves -----------------------------------------------------------------------------
SAME_REGISTRY = [
    ("localhost:5000/x", "[::1]:5000/x"),
    ("127.0.0.1:5000/x", "LocalHost.:5000/x/"),
    ("gcr.io/p", "gcr.io:443/p"),
    ("localhost/p", "127.0.0.1:80/p"),
]


@pytest.mark.parametrize(("one", "other"), SAME_REGISTRY)
def test_registry_spellings_of_one_place_overlap(one: str, other: str) -> None:
    assert address.registry_place(one).overlaps(address.registry_place(other))


@pytest.mark.parametrize(("one", "other"), [("gcr.io/p", "gcr.io/p2"), ("gcr.io:5000/p", "gcr.io/p"),
                                            ("127.0.0.1:5000/x", "127.0.0.1:5001/x"), ("a.io/x", "b.io/x")])
def test_registry_different_places_do_not_overlap(one: str, other: str) -> None:
    assert not address.registry_place(one).overlaps(address.registry_place(other))


@pytest.mark.parametrize("check", [address.check_bucket, address.check_registry, address.check_mail,
                                   address.check_link, address.check_clone_url])
@pytest.mark.parametrize("text", ["", "@", "::", "[", "]:", "-", "%", "a@b@c", "file://", "gs://", "https://[::1"])
def test_address_checks_raise_only_our_error(check: Callable[[str], None], text: str) -> None:
    with contextlib.suppress(InvalidValue):  # anything else (ValueError, IndexError, ...) fails the test
        check(text)
