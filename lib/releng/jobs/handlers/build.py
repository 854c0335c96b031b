"""Handlers for building: run the profile's build command, check its outputs, assemble krel's gcs-stage tree."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from releng import buildcmd, checksums, git, layout, sbom
from releng.errors import ReleaseError
from releng.jobs.clients import Clients
from releng.jobs.handlers.base import handles
from releng.jobs.steps import AssembleStage, BuildArtifacts, VerifyArtifacts
from releng.paths import inside, refuse_special_files
from releng.registry.imagetar import tarball_info

log = logging.getLogger(__name__)

BUILD_DONE = ".krel-build-complete"
ASSEMBLED = ".krel-assembled"


class BuildFailedError(ReleaseError):
    """The build command exited non-zero: its last line, then the last lines of its output to read the cause."""

    @classmethod
    def for_run(cls, command: str, done: buildcmd.Finished) -> BuildFailedError:
        shown = "\n".join(f"  | {line}" for line in done.tail)
        return cls(f"build command {command!r} failed with exit code {done.code}: {done.last}"
                   + (f"\nlast {len(done.tail)} lines of its output:\n{shown}" if done.tail else ""))


@handles(BuildArtifacts)
def build_artifacts(step: BuildArtifacts, clients: Clients) -> None:
    """Build at the version's tag with KREL_VERSION/KREL_BUILD_VERSION set; outputs move to `_output-<v>`."""
    dest = Path(step.dest)
    if (dest / BUILD_DONE).exists():
        clients.report.info(f"{dest.name} already built")
        return
    repo = Path(step.repo)
    git.checkout_detached(repo, f"refs/tags/{step.version}")
    # The profile names the output dir and it is emptied before the build: it must stay inside the clone (resolved
    # after the checkout, which could have put a symlink there).
    out = inside(repo, step.output_dir, "build.output_dir")
    shutil.rmtree(out, ignore_errors=True)
    env = buildcmd.build_env(step.version, step.build_version)

    def on_line(line: str) -> None:
        log.info("build: %s", line)
        clients.report.output("build", line)

    try:
        done = buildcmd.run_streamed(step.command, repo, env, on_line)
    except OSError as exc:
        raise ReleaseError(f"build command {step.command!r} could not start in {repo}: {exc.strerror}") from exc
    if done.code != 0:
        raise BuildFailedError.for_run(step.command, done)
    if not out.is_dir():
        raise ReleaseError(f"build command {step.command!r} produced no {step.output_dir}/ in {repo}")
    refuse_special_files(out, f"build output of {step.version}")
    (out / BUILD_DONE).write_text(step.version)
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(out, dest)


# ELF e_machine values for the arches krel builds (pkg/binary does the same check for ELF, Mach-O and PE).
ELF_MACHINES = {"386": 3, "amd64": 62, "arm": 40, "arm64": 183, "ppc64le": 21, "s390x": 22, "riscv64": 243}


def elf_arch(path: Path) -> str | None:
    """The arch an ELF binary is built for; None for anything that is not ELF (scripts, data)."""
    with path.open("rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    return next((arch for arch, value in ELF_MACHINES.items() if value == machine), f"e_machine {machine}")


def _expected(step: VerifyArtifacts) -> list[str]:
    files = ["release-tars"]
    files += [f"bin/linux/{arch}" for arch in step.arches]
    files += [f"release-images/{arch}/{image}.tar" for arch in step.arches for image in step.images]
    return files


@handles(VerifyArtifacts)
def verify_artifacts(step: VerifyArtifacts, clients: Clients) -> None:
    """Every expected output exists, is non-empty, and each image tarball is for the arch it is filed under."""
    root = Path(step.build_dir)
    for rel in _expected(step):
        path = root / rel
        if not path.exists() or (path.is_dir() and not any(path.iterdir())):
            raise ReleaseError(f"build output of {step.version} is missing {rel} (in {root})")
    if not any(root.glob("release-tars/*.tar.gz")):
        raise ReleaseError(f"build output of {step.version} has no release-tars/*.tar.gz (in {root})")
    for arch in step.arches:
        for binary in sorted(p for p in (root / "bin" / "linux" / arch).rglob("*") if p.is_file()):
            found = elf_arch(binary)
            if found is not None and found != arch:
                raise ReleaseError(f"{binary}: binary is for {found}, expected {arch}")
        for image in step.images:
            path = layout.images_dir(root) / arch / f"{image}.tar"
            info = tarball_info(path)
            if info.architecture != arch:
                raise ReleaseError(f"{path}: image is for {info.architecture or 'no arch'}, expected {arch}")


@handles(AssembleStage)
def assemble_stage(step: AssembleStage, clients: Clients) -> None:
    """krel StageLocalArtifacts: release tars + bin/<os>/<arch>/… + SBOM + per-file checksums and SHA*SUMS."""
    root = Path(step.build_dir)
    final = layout.stage_tree_dir(root, step.version)
    if (root / ASSEMBLED).exists() and final.is_dir():
        return
    partial = final.with_name(f"{step.version}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)
    partial.mkdir(parents=True)
    for tar in sorted((root / "release-tars").iterdir()):
        shutil.copy2(tar, partial / tar.name)
    shutil.copytree(root / "bin", partial / "bin")
    created = sbom.release_time(Path(step.repo), step.version)
    sbom.write_release_sbom(partial, step.version, step.product, step.upstream, step.commit, created)
    checksums.write_checksums(partial)
    os.replace(partial, final)
    (root / ASSEMBLED).write_text(step.version)
