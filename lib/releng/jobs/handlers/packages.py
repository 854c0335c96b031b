"""Handlers for the release's deb and rpm packages: built at stage from the verified build output, published at
release from the staged copies the verified provenance names (releng.packages does the work)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from releng import provenance
from releng.errors import UsageError
from releng.jobs.clients import Clients
from releng.jobs.handlers.base import checks, handles
from releng.jobs.handlers.bucket import copy_pairs, verified_statement
from releng.jobs.steps import BuildPackages, PublishPackages
from releng.objectstore import ObjectStore
from releng.packages import build, keys, run, spec


@handles(BuildPackages)
def build_packages(step: BuildPackages, clients: Clients) -> None:
    """Every package for every arch into the build's packages/ dir (built aside, then moved: a rerun after a kill
    never stages half a set); the same input gives the same bytes, so a rebuild stages nothing new."""
    out = Path(step.out_dir)
    if out.is_dir():
        clients.report.info(f"packages of {step.version} already built in {out}")
        return
    arches = spec.package_arches(step.packages, step.arches, ())
    epoch = build.release_epoch(Path(step.repo), step.version)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    templates_from = Path(step.template_dir) if step.template_dir else None
    built = build.build_packages(step.packages, step.version, arches, Path(step.build_dir), partial, epoch,
                                 templates_from)
    os.replace(partial, out)
    clients.report.info(f"{len(built)} packages of {step.version} ({', '.join(arches)}) in {out}")


def _staged_files(step: PublishPackages, clients: Clients, into: Path) -> list[Path]:
    """The staged packages the verified provenance names, downloaded into `into` and checked against it."""
    store = clients.store(step.bucket)
    _, subjects = verified_statement(step.verified_file)
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    files = []
    for subject, local in copy_pairs(step.stage_prefix, subjects, step.src_prefix, str(into)):
        path = Path(local)
        if path.parent != into:  # the builders write a flat directory; anything deeper was not staged by krel
            raise provenance.ProvenanceError(f"{subject.name}: not a package file of {step.src_prefix}/")
        provenance.fetch_verified(store, f"{step.stage_prefix}/{subject.name}", subject, path)
        files.append(path)
    return files


def _key_source(step: PublishPackages, clients: Clients) -> keys.KeySource:
    return run.key_source_for(step.packages_bucket, Path(step.keys_dir), clients.packages_key_env)


def _packages_store(step: PublishPackages, clients: Clients) -> ObjectStore:
    if not step.packages_bucket:
        raise UsageError("packages: these targets have no packages_bucket to publish the profile's [packages] to")
    return clients.store(step.packages_bucket)


@checks(PublishPackages)
def check_publish_packages(step: PublishPackages, clients: Clients) -> None:
    """Refused in advance: staged packages that do not match the provenance, a key that cannot sign (missing, wrong
    passphrase), a published package with other bytes."""
    scratch = Path(step.work_dir) / "check"
    try:
        files = _staged_files(step, clients, scratch)
        new = run.check_files(files, step.tag, step.project, _packages_store(step, clients), step.key_mode,
                              _key_source(step, clients))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the job's own scratch dir
    clients.report.info(f"{len(files)} staged packages of {step.tag}; {new} not published yet")


@handles(PublishPackages)
def publish_packages(step: PublishPackages, clients: Clients) -> None:
    """The staged packages into the minor's apt and rpm repositories of the packages bucket: write-once packages,
    indexes rebuilt from everything published and signed; a rerun writes nothing."""
    scratch = Path(step.work_dir) / "publish"
    try:
        files = _staged_files(step, clients, scratch)
        repos = run.publish_files(files, step.tag, step.project, _packages_store(step, clients),
                                  step.public_url, step.key_mode, _key_source(step, clients))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for repo in repos:
        clients.report.info(f"{repo.kind}: {repo.client_line} ({len(repo.written)} written, "
                            f"{len(repo.unchanged)} already there)")
