"""Packaging: code lives in two roots (krel/ and lib/releng/) and templates/ ships as releng.templates."""

from pathlib import Path

from setuptools import find_packages, setup


def _data_packages(root: str, name: str) -> list[str]:
    base = Path(root)
    if not base.is_dir():
        return []
    dirs = [base, *sorted(d for d in base.rglob("*") if d.is_dir() and "__pycache__" not in d.parts)]
    return [".".join([name, *d.relative_to(base).parts]) for d in dirs]


TEMPLATES = _data_packages("templates", "releng.templates")

setup(
    packages=find_packages(include=["krel", "krel.*"]) + find_packages("lib") + TEMPLATES,
    package_dir={"releng": "lib/releng", **({"releng.templates": "templates"} if TEMPLATES else {})},
    package_data={
        **{t: ["*"] for t in TEMPLATES},
        "releng.profiles": ["*.toml"],
    },
)
