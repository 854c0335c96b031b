#!/usr/bin/env python3
"""The krel demo: a demo project, a loopback registry, then stage + release in mock and in nomock, and a summary.

Run through hack/demo (which installs what is needed). KREL_HOME (default ~/.krel) holds everything it makes.
A second run finds the release done and re-runs the nomock release, which verifies everything and changes nothing.
The registry (`krel local up`, at KREL_LOCAL_REGISTRY, default 127.0.0.1:5000) keeps running afterwards, so the
address in the released notes stays reachable for the next commands; `krel local down` stops it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from releng import git, localservices
from releng.packages import sources
from releng.profile import Profile, load_profile
from releng.registry.client import RegistryClient
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # the project generator next to this file

console = Console(highlight=False)
BRANCH, TYPE = "release-1.0", "rc"


def krel(env: dict[str, str], *args: str) -> None:
    """Run one krel command for everyone to see; stop the demo if it fails."""
    console.rule(f"[bold cyan]$ krel {' '.join(args)}")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "krel", *args], env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"demo: `krel {' '.join(args)}` failed with exit code {done.returncode}")
    console.print(f"[green]ok[/] in {time.monotonic() - started:.1f}s")


def _markers(bucket: Path) -> list[tuple[str, str]]:
    root = bucket / "release"
    return [(p.name, p.read_text().strip()) for p in sorted(root.glob("*.txt"))] if root.is_dir() else []


def _packages(profile: Profile, nomock: bool, tag: str) -> str:
    """The tag's apt and rpm repositories in the targets' packages bucket, with how many packages each holds."""
    targets = profile.targets(nomock)
    if profile.packages is None or not targets.packages_bucket:
        return "no [packages] in the profile"
    lines = []
    for repo in sources.repository_sources(sources.public_url(targets), profile.packages.project, tag):
        root = Path(repo.url.removeprefix("file://"))
        count = len(list(root.rglob(f"*.{repo.kind}"))) if root.is_dir() else 0
        lines.append(f"{repo.client_line}\n  {count} .{repo.kind} files")
    return "\n".join(lines)


def summary(home: Path, project: generate.DemoProject, registry: str, versions: list[str], took: float) -> None:
    """Everything a release manager would look at afterwards, with paths."""
    buckets = {"mock": home / "buckets" / "mock", "nomock": home / "buckets" / "release"}
    table = Table(title=f"krel demo: {', '.join(versions)} from build {project.build_version}", show_lines=True)
    for column in ("", "mock (default)", "nomock (--nomock)"):
        table.add_column(column, overflow="fold")
    table.add_row("bucket", *(str(b) for b in buckets.values()))
    table.add_row("released", *("\n".join(str(b / "release" / v) for v in versions) for b in buckets.values()))
    table.add_row("markers", *("\n".join(f"{n} = {c}" for n, c in _markers(b)) for b in buckets.values()))
    with RegistryClient(registry) as client:
        images = {}
        for prefix in ("mock", "staging"):
            lines = []
            for v in versions:
                found = client.head_manifest(f"{prefix}/demo-server", v)
                lines.append(f"{registry}/{prefix}/demo-server:{v}\n  {found.digest if found else 'missing'}")
            images[prefix] = "\n".join(lines)
    table.add_row("images", images["mock"], images["staging"])
    pages = [str(buckets["nomock"] / "release" / versions[0] / "github-release.md")]
    table.add_row("notes", str(buckets["mock"] / "release" / versions[0] / "release-notes.html"),
                  str(buckets["nomock"] / "release" / versions[0] / "release-notes.html"))
    table.add_row("GitHub page", "rendered only (mock)", "\n".join(pages))
    # Signed as the local profile says: a .sig beside every released file, the envelopes, the public key.
    table.add_row("signatures", *(f"{b / 'release' / versions[0]}/*.sig, provenance.intoto.jsonl\n"
                                  f"key {b / 'release' / versions[0] / 'release-key.pub'}" for b in buckets.values()))
    remote_tags = git.ls_remote_tags(project.upstream)
    heads = git.ls_remote_heads(project.upstream)
    table.add_row("git remote", "dry-run push: nothing changed",
                  "\n".join([f"tag {t} -> {remote_tags[t][:12]}" for t in versions if t in remote_tags]
                            + [f"branch {b} -> {s[:12]}" for b, s in sorted(heads.items())]))
    profile = load_profile("local", {"krel_home": str(home), "local_registry": registry})
    table.add_row("packages", _packages(profile, False, versions[0]), _packages(profile, True, versions[0]))
    table.add_row("release notes index", "", str(buckets["nomock"] / "release" / "release-notes-index.json"))
    console.print(table)
    workspaces = home / "workspaces" / "local"
    console.print(f"upstream repository: {project.upstream.removeprefix('file://')}")
    console.print(f"job work dirs, journals and logs: {workspaces}")
    console.print(f"announcement: {buckets['nomock'] / 'release' / versions[0] / 'announcement.html'}")
    exports = f"export KREL_HOME={home} KREL_LOCAL_REGISTRY={registry} PATH={Path(sys.executable).parent}:$PATH"
    console.print(f"next (the registry keeps running):\n  {exports}\n  krel announce send --tag {versions[0]} "
                  f"--nomock --print-only\n  krel verify release --tag {versions[0]} --nomock   # files, envelopes, "
                  "images and their signatures\n  krel local status\n  krel local down   # stops the registry")
    console.print(f"[bold green]demo finished in {took:.0f}s[/]")


def main() -> None:
    started = time.monotonic()
    home = Path(os.environ.get("KREL_HOME") or Path.home() / ".krel").expanduser().resolve()
    console.print(f"[bold]krel demo[/] in KREL_HOME={home}")
    project = generate.create(home)
    console.print(f"demo project: {project.work} (upstream {project.upstream}), CI build {project.build_version}")
    address = os.environ.get("KREL_LOCAL_REGISTRY") or localservices.DEFAULT_REGISTRY
    (registry,) = localservices.up(home, address)
    console.print(f"registry: docker-registry on {registry.address} (pid {registry.pid}, data in {registry.data_dir})")
    env = {**os.environ, "KREL_HOME": str(home), "KREL_LOCAL_REGISTRY": registry.address, "KREL_PROFILE": "local"}
    done_marker = home / "demo" / "released.json"
    common = ["--branch", BRANCH, "--type", TYPE]
    release = ["release", *common, "--build-version", project.build_version]
    if done_marker.exists():
        console.print("[yellow]the demo release is already out; re-running the nomock release (a no-op)[/]")
        krel(env, *release, "--nomock")
    else:
        replay = ["--replay", project.replay]
        krel(env, "stage", *common, *replay)
        krel(env, *release)
        krel(env, "stage", *common, *replay, "--nomock")
        krel(env, *release, "--nomock")
        done_marker.write_text(json.dumps({"build_version": project.build_version}) + "\n")
    # The release pushed the CHANGELOG upstream: bring the demo clone up to date so the profile's changelog link
    # (demo/work/CHANGELOG/...) names a file that exists.
    subprocess.run(["git", "-C", project.work, "pull", "--quiet", "--ff-only", "origin", "master"], check=False)
    summary(home, project, registry.address, ["v1.0.0-rc.0", "v1.1.0-alpha.0"], time.monotonic() - started)


if __name__ == "__main__":
    main()
