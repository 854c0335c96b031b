"""Every validator of digests, tags, image names and registry paths (registry and promo packages) accepts exactly
the OCI distribution grammar: ASCII only, whole string. The oracle below is written without regular expressions,
straight from distribution/reference's grammar, so it cannot share a regex bug with the code under test."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from releng.errors import ReleaseError, UsageError
from releng.promo import manifests
from releng.registry import oci, reference

LOWER_ALNUM = set(string.ascii_lowercase + string.digits)
ALNUM = set(string.ascii_letters + string.digits)
HEX = set("0123456789abcdef")


def oracle_digest(s: str) -> bool:
    return s.startswith("sha256:") and len(s) == 71 and set(s[7:]) <= HEX


def oracle_tag(s: str) -> bool:
    # tag := [\w][\w.-]{0,127} with \w = [a-zA-Z0-9_]
    word = ALNUM | {"_"}
    return 1 <= len(s) <= 128 and s[0] in word and set(s[1:]) <= word | {".", "-"}


def oracle_component(s: str) -> bool:
    # path-component := alpha-numeric (separator alpha-numeric)*; separator := [_.] | __ | [-]*
    if not s or s[0] not in LOWER_ALNUM or s[-1] not in LOWER_ALNUM:
        return False
    i = 0
    while i < len(s):
        if s[i] in LOWER_ALNUM:
            i += 1
            continue
        j = i
        while j < len(s) and s[j] not in LOWER_ALNUM:
            j += 1
        sep = s[i:j]
        if not (sep in (".", "_", "__") or set(sep) == {"-"}):
            return False
        i = j
    return True


def oracle_repository(s: str) -> bool:
    return 1 <= len(s) <= 255 and all(oracle_component(c) for c in s.split("/"))


def oracle_domain_part(s: str) -> bool:
    return bool(s) and set(s) <= ALNUM | {"-"} and s[0] != "-" and s[-1] != "-"


def oracle_host(s: str) -> bool:
    if s.startswith("["):
        addr, close, port = s[1:].partition("]")
        if not close or not addr or not set(addr) <= set("0123456789abcdefABCDEF:"):
            return False
        return not port or (port[0] == ":" and len(port) > 1 and set(port[1:]) <= set(string.digits))
    name, colon, port = s.partition(":")
    if colon and (not port or not set(port) <= set(string.digits)):
        return False
    return all(oracle_domain_part(p) for p in name.split("."))


def oracle_registry_path(s: str) -> bool:
    host, _, rest = s.partition("/")
    return 1 <= len(s) <= 255 and oracle_host(host) and (not _ or all(oracle_component(c) for c in rest.split("/")))


VALIDATORS = {
    "digest": (reference.DIGEST, oracle_digest),
    "tag": (reference.TAG, oracle_tag),
    "component": (reference.COMPONENT, oracle_component),
    "repository": (reference.REPOSITORY, oracle_repository),
    "host": (reference.HOST, oracle_host),
    "registry-path": (reference.REGISTRY_PATH, oracle_registry_path),
    "promo-digest": (manifests.DIGEST_RE, oracle_digest),
    "promo-tag": (manifests.TAG_RE, oracle_tag),
    "promo-image-name": (manifests.IMAGE_NAME_RE, oracle_repository),
    "promo-registry-name": (manifests.REGISTRY_NAME_RE, oracle_registry_path),
}

# Text that stresses Unicode and anchoring: letters and digits from other scripts, case-folding look-alikes
# (Kelvin sign, long s, dotless i), full-width forms, and line ends.
_TRICKY = "aZ09_.-/:@[]\n\r\t \x00안녕٣ſKıｆé"
_text = st.text(alphabet=st.sampled_from(_TRICKY), max_size=40) | st.text(max_size=40)


@pytest.mark.parametrize(("pattern", "oracle"), VALIDATORS.values(), ids=VALIDATORS.keys())
@settings(max_examples=200, deadline=None)
@given(text=_text)
def test_accepted_strings_are_in_the_grammar(pattern: object, oracle: object, text: str) -> None:
    assert callable(oracle)
    accepted = pattern.match(text) is not None  # type: ignore[attr-defined]  # .match: anchoring must be built in
    assert accepted == oracle(text), repr(text)


@given(st.from_regex(r"[a-z0-9]{1,8}(?:(?:[._]|__|-{1,3})[a-z0-9]{1,8}){0,3}", fullmatch=True))
def test_grammar_components_are_accepted(component: str) -> None:
    assert oracle_component(component)
    assert reference.COMPONENT.match(component) and manifests.IMAGE_NAME_RE.match(f"{component}/{component}")


@given(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", fullmatch=True))
def test_grammar_tags_are_accepted(tag: str) -> None:
    assert oracle_tag(tag) and manifests.TAG_RE.match(tag) and reference.TAG.match(tag)


HOSTILE = {
    "tag-hangul": ("tag", "안녕"),
    "tag-trailing-newline": ("tag", "latest\n"),
    "tag-trailing-cr": ("tag", "v1\r"),
    "tag-arabic-digit": ("tag", "v٣"),
    "tag-kelvin-sign": ("tag", "\u212a8s"),
    "tag-long-s": ("tag", "\u017fhell"),
    "tag-fullwidth": ("tag", "ｖ1"),
    "tag-nul": ("tag", "v1\x00"),
    "tag-leading-dot": ("tag", ".v1"),
    "tag-leading-dash": ("tag", "-v1"),
    "tag-129-chars": ("tag", "a" * 129),
    "tag-empty": ("tag", ""),
    "digest-trailing-newline": ("digest", "sha256:" + "a" * 64 + "\n"),
    "digest-upper-hex": ("digest", "sha256:" + "A" * 64),
    "digest-short": ("digest", "sha256:" + "a" * 63),
    "digest-arabic-digits": ("digest", "sha256:" + "٣" * 64),
    "digest-sha512": ("digest", "sha512:" + "a" * 128),
    "image-uppercase": ("image", "Foo"),
    "image-trailing-newline": ("image", "foo\n"),
    "image-dotless-i": ("image", "foo\u0131"),
    "image-double-slash": ("image", "a//b"),
    "image-trailing-slash": ("image", "a/"),
    "image-triple-underscore": ("image", "a___b"),
    "image-256-chars": ("image", "a" * 256),
    "registry-trailing-newline": ("registry", "gcr.io/k8s-staging-foo\n"),
    "registry-leading-dash-host": ("registry", "-gcr.io/foo"),
    "registry-trailing-dash-label": ("registry", "gcr-.io/foo"),
    "registry-empty-label": ("registry", "gcr..io/foo"),
    "registry-unicode-host": ("registry", "gсr.io/foo"),  # Cyrillic с
    "registry-port-letters": ("registry", "127.0.0.1:50a0/foo"),
}
_PATTERN = {"tag": manifests.TAG_RE, "digest": manifests.DIGEST_RE, "image": manifests.IMAGE_NAME_RE,
            "registry": manifests.REGISTRY_NAME_RE}


@pytest.mark.parametrize(("kind", "text"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_values_are_refused_everywhere(kind: str, text: str) -> None:
    assert _PATTERN[kind].match(text) is None
    if kind == "digest":
        with pytest.raises(ReleaseError, match="invalid digest"):
            oci.check_digest(text)
    ref = {"tag": f"gcr.io/p/foo:{text}", "digest": f"gcr.io/p/foo@{text}", "image": f"gcr.io/p/{text}:v1",
           "registry": f"{text}:v1"}[kind]
    with pytest.raises(UsageError):
        reference.parse_image_ref(ref)


@given(st.text(max_size=60) | st.text(alphabet=st.sampled_from(_TRICKY), max_size=60))
def test_parse_image_ref_accepts_grammar_or_raises_usage_error(text: str) -> None:
    try:
        ref = reference.parse_image_ref(text)
    except UsageError:
        return
    assert oracle_host(ref.host) and oracle_repository(ref.repo)
    assert ref.tag is None or oracle_tag(ref.tag)
    assert ref.digest is None or oracle_digest(ref.digest)


def test_valid_references_parse() -> None:
    ref = reference.parse_image_ref("us-central1-docker.pkg.dev/k8s-artifacts-prod/images/pause:3.9@sha256:" + "a" * 64)
    assert (ref.host, ref.repo, ref.tag) == ("us-central1-docker.pkg.dev", "k8s-artifacts-prod/images/pause", "3.9")
    assert reference.parse_image_ref("[::1]:5000/staging/foo:v1").host == "[::1]:5000"
