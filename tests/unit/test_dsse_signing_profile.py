"""The profile's [signing] section and the key each set of targets signs with: production keys never touch mock."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from releng.errors import ReleaseError, UsageError
from releng.profile import BUILTIN_DIR, SigningTargets, load_profile
from releng.signing import keys
from releng.signing import release as signed

VARS = {"krel_home": "/tmp/kh", "local_registry": "127.0.0.1:5999"}
# local.toml without its own [signing] tables, so each test writes the one it means.
BASE = re.sub(r"\n\[signing\.(mock|nomock)\]\n(\w+ = [^\n]*\n)*", "\n", (BUILTIN_DIR / "local.toml").read_text())


def _profile(tmp_path: Path, signing: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(BASE + "\n" + signing)
    return path


def test_absent_section_signs_nothing(tmp_path: Path) -> None:
    profile = load_profile(_profile(tmp_path, ""), VARS)
    assert not profile.signing_for(False).signs() and not profile.signing_for(True).signs()
    assert not load_profile("kubernetes", VARS).signing_for(False).signs()


def test_local_profile_signs_everything_in_both() -> None:
    profile = load_profile("local", VARS)
    for nomock in (False, True):
        settings = profile.signing_for(nomock)
        assert (settings.artifacts, settings.images, settings.provenance) == (True, True, True)
    assert profile.signing_for(False).key == "/tmp/kh/keys/mock/signing.key"
    assert profile.signing_for(True).key != profile.signing_for(False).key


SAME_KEY = {
    "same": ("/keys/a.key", "/keys/a.key"),
    "dot-dot": ("/keys/x/../a.key", "/keys/a.key"),
    "double-slash": ("/keys//a.key", "/keys/a.key"),
    "home": ("~/a.key", "{home}/a.key"),
}


@pytest.mark.parametrize("case", sorted(SAME_KEY))
def test_mock_key_equal_to_nomock_key_is_refused(tmp_path: Path, case: str) -> None:
    mock, nomock = (v.replace("{home}", str(Path.home())) for v in SAME_KEY[case])
    path = _profile(tmp_path, f'[signing.mock]\nartifacts = true\nkey = "{mock}"\n'
                              f'[signing.nomock]\nartifacts = true\nkey = "{nomock}"\n')
    with pytest.raises(UsageError, match=r"mock targets must not reach production: signing\.mock\.key") as caught:
        load_profile(path, VARS)
    assert "\n" not in str(caught.value)


def test_mock_key_symlinked_to_nomock_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real.key").write_text("k")
    (tmp_path / "link.key").symlink_to(tmp_path / "real.key")
    path = _profile(tmp_path, f'[signing.mock]\nkey = "{tmp_path}/link.key"\n'
                              f'[signing.nomock]\nkey = "{tmp_path}/real.key"\n')
    with pytest.raises(UsageError, match=r"signing\.mock\.key"):
        load_profile(path, VARS)


BAD_FIELDS = {
    "relative-key": ('[signing.mock]\nkey = "keys/a.key"\n', "signing.mock.key: 'keys/a.key' must be an absolute"),
    "option-key": ('[signing.nomock]\nkey = "-rf"\n', "signing.nomock.key: '-rf' must be an absolute path"),
    "control-key": ('[signing.nomock]\nkey = "/a\\u001b[2J.key"\n', "control character U\\+001B"),
    "typo": ("[signing.mock]\nartefacts = true\n", "unknown key signing.mock.artefacts; did you mean 'artifacts'"),
    "not-bool": ('[signing.mock]\nimages = "yes"\n', "signing.mock.images must be bool"),
    "not-table": ("[signing]\nmock = 1\n", "signing.mock must be a table"),
    "unknown-target": ("[signing.staging]\nimages = true\n", "unknown key signing.staging"),
}


@pytest.mark.parametrize("case", sorted(BAD_FIELDS))
def test_bad_signing_field_is_one_line_naming_the_key(tmp_path: Path, case: str) -> None:
    text, message = BAD_FIELDS[case]
    with pytest.raises(UsageError, match=message) as caught:
        load_profile(_profile(tmp_path, text), VARS)
    assert str(caught.value).startswith("profile ") and "\n" not in str(caught.value)
    assert "\x1b" not in str(caught.value)


# ---- which key file the targets use ---------------------------------------------------------------------------

ON = SigningTargets(artifacts=True)


def test_mock_key_defaults_below_krel_home_and_is_made_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = signed.load_key(ON, home, nomock=False, environ={})
    private = home / "keys" / "mock" / "signing.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert (home / "keys" / "mock" / "signing.pub").read_bytes() == first.public_pem()
    assert signed.load_key(ON, home, nomock=False, environ={}).key_id == first.key_id


def test_nomock_key_comes_from_the_environment(tmp_path: Path) -> None:
    made = keys.generate_key(tmp_path / "prod.key", tmp_path / "prod.pub", password=b"pw")
    env = {keys.KEY_ENV: str(tmp_path / "prod.key"), keys.PASSWORD_ENV: "pw"}
    assert signed.load_key(ON, tmp_path / "home", nomock=True, environ=env).key_id == made.key_id
    assert signed.load_verify_key("", ON, tmp_path / "home", True, env).key_id == made.key_id
    assert signed.load_verify_key(str(tmp_path / "prod.pub"), ON, tmp_path, True, {}).key_id == made.key_id


def test_nomock_never_generates_a_production_key(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="set KREL_SIGNING_KEY"):
        signed.load_key(ON, tmp_path, nomock=True, environ={})
    missing = SigningTargets(artifacts=True, key=str(tmp_path / "absent.key"))
    with pytest.raises(ReleaseError, match=r"absent\.key: cannot read it"):
        signed.load_key(missing, tmp_path, nomock=True, environ={})
    assert not (tmp_path / "absent.key").exists()
    demo = SigningTargets(artifacts=True, key=str(tmp_path / "demo.key"), generate_key=True)
    assert signed.load_key(demo, tmp_path, nomock=True, environ={}).key_id


KEY_CROSSINGS = {
    # production run pointed at mock's throwaway key
    "nomock-env-is-mock-key": (True, "", "{home}/keys/mock/signing.key", "is mock's throwaway key"),
    "nomock-profile-is-mock-key": (True, "{home}/keys/mock/../mock/signing.key", "", "is mock's throwaway key"),
    # mock run that would read the production key in the environment
    "mock-profile-is-env-key": (False, "{tmp}/prod.key", "{tmp}/prod.key", "the production key in \\$KREL_SIGNING_KEY"),
    "mock-default-is-env-key": (False, "", "{home}/keys/mock/signing.key", "the production key"),
}


@pytest.mark.parametrize("case", sorted(KEY_CROSSINGS))
def test_keys_never_cross_between_mock_and_production(tmp_path: Path, case: str) -> None:
    nomock, key, env_key, message = KEY_CROSSINGS[case]
    home = tmp_path / "home"

    def fill(text: str) -> str:
        return text.replace("{home}", str(home)).replace("{tmp}", str(tmp_path))

    env = {keys.KEY_ENV: fill(env_key)} if env_key else {}
    with pytest.raises(UsageError, match=message) as caught:
        signed.load_key(SigningTargets(artifacts=True, key=fill(key)), home, nomock=nomock, environ=env)
    assert "\n" not in str(caught.value)
    assert not os.path.exists(home / "keys")  # nothing generated on the way to the refusal


def test_verify_key_is_never_created(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="pass --key PUB"):
        signed.load_verify_key("", ON, tmp_path, False, {})
    assert not (tmp_path / "keys").exists()
