"""The Dependencies section from two go.mod files, go-modiff style."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from releng.notes import dependencies, render

BEFORE = """module k8s.io/kubernetes

go 1.19

require github.com/stretchr/testify v1.7.0

require (
\tgithub.com/stretchr/objx v0.2.0 // indirect
\tgo.uber.org/goleak v1.1.10
\tgolang.org/x/lint v0.0.0-20190930215403-16217165b5de
\tsigs.k8s.io/apiserver-network-proxy/konnectivity-client v0.0.32
\tgithub.com/gone/away v1.0.0
)

replace k8s.io/api => ./staging/src/k8s.io/api
"""
AFTER = """module k8s.io/kubernetes

require (
\tgithub.com/stretchr/objx v0.4.0 // indirect
\tgithub.com/stretchr/testify v1.8.0
\tgo.uber.org/goleak v1.2.0
\tgolang.org/x/lint v0.0.0-20210508222113-6edffad5e616
\tsigs.k8s.io/apiserver-network-proxy/konnectivity-client v0.0.33
\tgithub.com/new/one v0.1.0
\tgo.example.com/other v2.0.0+incompatible
)
"""


def test_section_matches_krel_layout() -> None:
    text = render.dependencies_markdown(dependencies.diff(BEFORE, AFTER))
    assert text == (
        "### Added\n"
        "- github.com/new/one: [v0.1.0](https://github.com/new/one/tree/v0.1.0)\n"
        "- go.example.com/other: v2.0.0+incompatible\n"
        "\n### Changed\n"
        "- github.com/stretchr/objx: [v0.2.0 → v0.4.0](https://github.com/stretchr/objx/compare/v0.2.0...v0.4.0)\n"
        "- github.com/stretchr/testify: [v1.7.0 → v1.8.0](https://github.com/stretchr/testify/compare/v1.7.0...v1.8.0)\n"
        "- go.uber.org/goleak: v1.1.10 → v1.2.0\n"
        "- golang.org/x/lint: 1621716 → 6edffad\n"
        "- sigs.k8s.io/apiserver-network-proxy/konnectivity-client: v0.0.32 → v0.0.33\n"
        "\n### Removed\n"
        "- github.com/gone/away: [v1.0.0](https://github.com/gone/away/tree/v1.0.0)\n"
    )


def test_nothing_changed() -> None:
    text = render.dependencies_markdown(dependencies.diff(BEFORE, BEFORE))
    assert text == (
        "### Added\n_Nothing has changed._\n\n### Changed\n_Nothing has changed._\n\n"
        "### Removed\n_Nothing has changed._\n"
    )


@given(st.text(max_size=300), st.text(max_size=300))
def test_any_go_mod_pair_renders(before: str, after: str) -> None:
    text = render.dependencies_markdown(dependencies.diff(before, after))
    assert text.startswith("### Added\n") and "### Removed\n" in text
