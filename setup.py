"""Packaging: code lives in two roots (krel/ and lib/releng/) and templates/ ships as releng.templates.

Built distributions carry the commit they were built from in krel/_build_info.py (`krel version` reads it): an
installed wheel has no git checkout to ask.
"""

import subprocess
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

BUILD_INFO = Path("krel", "_build_info.py")


def _data_packages(root: str, name: str) -> list[str]:
    base = Path(root)
    if not base.is_dir():
        return []
    dirs = [base, *sorted(d for d in base.rglob("*") if d.is_dir() and "__pycache__" not in d.parts)]
    return [".".join([name, *d.relative_to(base).parts]) for d in dirs]


def _head() -> str:
    """HEAD of this checkout; "" outside one (an sdist carries its own _build_info.py)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def _write_build_info(target: Path) -> None:
    commit = _head()
    if commit or not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f'"""Written at build time by setup.py."""\n\nCOMMIT = {commit or "unknown"!r}\n')


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        # An editable install reads the checkout itself (git); only real builds embed the commit.
        if not getattr(self, "editable_mode", False):
            _write_build_info(Path(self.build_lib) / BUILD_INFO)


class Sdist(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        _write_build_info(Path(base_dir) / BUILD_INFO)


TEMPLATES = _data_packages("templates", "releng.templates")

setup(
    packages=find_packages(include=["krel", "krel.*"]) + find_packages("lib") + TEMPLATES,
    package_dir={"releng": "lib/releng", **({"releng.templates": "templates"} if TEMPLATES else {})},
    package_data={
        **{t: ["*"] for t in TEMPLATES},
        "releng": ["py.typed"],
        "releng.profiles": ["*.toml"],
    },
    cmdclass={"build_py": BuildPy, "sdist": Sdist},
)
