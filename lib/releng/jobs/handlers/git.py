"""Handlers for the git side of a job: branch state, the workspace clone, tags, src.tar.gz, pushes."""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from releng import git, paths, provenance
from releng.errors import ReleaseError
from releng.jobs.clients import Clients
from releng.jobs.handlers.base import checks, handles
from releng.jobs.handlers.bucket import verified_statement
from releng.jobs.steps import (
    CheckBranchState,
    PrepareWorkspace,
    PushGitObjects,
    RestoreWorkspace,
    StageSource,
    TagVersion,
)
from releng.profile import Author

log = logging.getLogger(__name__)

_GIB = 1024**3
_RESTORED = ".krel-restored"


@handles(CheckBranchState)
def check_branch_state(step: CheckBranchState, clients: Clients) -> None:
    """krel CheckReleaseBranchState: the remote still agrees with the plan about the branch."""
    exists = git.remote_branch_exists(step.upstream, step.branch)
    if exists and step.branch_is_new:
        # A resumed release may have pushed the new branch already; that is this job's own work.
        clients.report.info(f"branch {step.branch} exists on the remote now; planned as new (pushed by an earlier run)")
        return
    if not exists and not step.branch_is_new:
        raise ReleaseError(f"branch {step.branch} does not exist on {step.upstream}")
    clients.report.info(f"branch {step.branch} {'needs creation' if step.branch_is_new else 'exists on the remote'}")


@handles(PrepareWorkspace)
def prepare_workspace(step: PrepareWorkspace, clients: Clients) -> None:
    """A clone of the upstream; an existing clone of the same remote is reused (and fetched)."""
    repo = Path(step.repo)
    if (repo / ".git").is_dir():
        try:
            same = git.remote_url(repo, "origin") == step.upstream
        except git.GitError:
            same = False
        if same:
            # A clone only ever appears whole (renamed from .partial), and a rerun works on what the first run
            # cloned: fetching could clash with tags this job made locally and a later run pushed elsewhere.
            return
        shutil.rmtree(repo)
    repo.parent.mkdir(parents=True, exist_ok=True)
    partial = repo.with_name(repo.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    git.clone(step.upstream, partial, branch=step.branch)
    os.replace(partial, repo)


def _head_is_release_commit(repo: Path, message: str, parent: str) -> bool:
    """A rerun after a kill between the empty release commit and the tag finds that commit on HEAD: reuse it."""
    head = git.rev_parse(repo, "HEAD")
    if git.commit_message(repo, head) != message:
        return False
    return git.parents(repo, head)[:1] == [parent]


@handles(TagVersion)
def tag_version(step: TagVersion, clients: Clients) -> None:
    """krel TagRepository for one version; an existing tag on the same commit (or its release commit) is kept."""
    repo = Path(step.repo)
    target = git.rev_parse(repo, step.commit)
    if git.tag_commit(repo, step.version) is not None:
        # raises TagConflictError if moved; the release commit counts only where krel makes one (release branches)
        git.tag(repo, step.version, target, step.tag_message, step.author, on_release_commit=step.release_commit)
        clients.report.info(f"tag {step.version} already exists on the expected commit")
        return
    remote_tags = git.ls_remote_tags(git.remote_url(repo, "origin"))
    if step.version in remote_tags:
        if remote_tags[step.version] != target:
            raise git.TagConflictError.for_tag(step.version, remote_tags[step.version], target)
        git.fetch(repo, "origin", (f"refs/tags/{step.version}:refs/tags/{step.version}",))
        clients.report.info(f"tag {step.version} is already on the remote at the build commit; fetched it")
        return
    if step.create_branch and not git.ref_exists(repo, f"refs/heads/{step.branch}"):
        git.checkout(repo, step.branch, force_create=True, start=target)
    else:
        # A branch this job created before a kill keeps its release commit; the check below refuses any other state.
        git.checkout(repo, step.branch)
    if step.release_commit:
        head = git.rev_parse(repo, "HEAD")
        if not _head_is_release_commit(repo, step.commit_message, target):
            if head != target:
                raise ReleaseError(
                    f"branch {step.branch} is at {head[:12]}, not at the build commit {target[:12]}; "
                    "stage the branch's latest build"
                )
            head = git.release_commit(repo, step.commit_message, step.author)
        git.tag(repo, step.version, head, step.tag_message, step.author)
    else:
        git.tag(repo, step.version, target, step.tag_message, step.author)
    clients.report.info(f"tagged {step.version}")


@handles(StageSource)
def stage_source(step: StageSource, clients: Clients) -> None:
    """krel StageLocalSourceTree: the whole clone (with .git, new tags and commits) as src.tar.gz."""
    store = clients.store(step.bucket)
    if store.exists(step.object_key):
        clients.report.info(f"{step.object_key} already staged")
        return
    repo = Path(step.repo)
    tarball = repo.parent / "src.tar.gz"
    partial = repo.parent / "src.tar.gz.partial"
    with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
        tar.add(repo, arcname="src")
    os.replace(partial, tarball)
    store.put_new(step.object_key, tarball, content_type="application/gzip")
    tarball.unlink()


# Caps for the untrusted archive's gzip stream: a src.tar.gz of a large repository (k/k with .git) is a few GiB.
MAX_SOURCE_BYTES = 32 * _GIB
MAX_SOURCE_MEMBERS = 2_000_000
# What `git clone` writes into .git/config; anything else in a restored clone could make git run a program
# (include, hooksPath, fsmonitor, filter/diff/merge drivers, sshCommand, credential helpers, ...).
_CONFIG_ALLOWED = re.compile(
    r"core\.(repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|precomposeunicode|symlinks)"
    r"|extensions\.objectformat|branch\.[^\n]+\.(remote|merge)|remote\.[^\n]+\.(url|fetch)"
)
# Files in .git that point git at another repository or object store on this machine.
_REDIRECTS = ("commondir", "objects/info/alternates", "objects/info/http-alternates")


class UntrustedSourceError(ReleaseError):
    """The staged source archive holds something a krel stage never puts there."""

    @classmethod
    def member(cls, url: str, name: str, problem: str) -> UntrustedSourceError:
        return cls(f"{url}: member {name!r} {problem}; refusing to unpack a staged source krel did not write")


def _checked_members(tar: tarfile.TarFile, unpack: Path, url: str) -> Iterator[tarfile.TarInfo]:
    """Regular files and directories below src/, nothing absolute, no `..`, within the size and count caps."""
    total = 0
    for count, member in enumerate(tar, start=1):
        total += member.size
        if count > MAX_SOURCE_MEMBERS or total > MAX_SOURCE_BYTES:
            raise ReleaseError(f"{url}: more than {MAX_SOURCE_MEMBERS} members or {MAX_SOURCE_BYTES // _GIB} GiB "
                               "unpacked; refusing the staged source")
        if not (member.isreg() or member.isdir()):
            kind = "a symlink" if member.issym() else "a hardlink" if member.islnk() else "not a file or directory"
            raise UntrustedSourceError.member(url, member.name, f"is {kind}")
        if member.name != "src" and not member.name.startswith("src/"):
            raise UntrustedSourceError.member(url, member.name, "is outside src/")
        if ".." in PurePosixPath(member.name).parts:
            raise UntrustedSourceError.member(url, member.name, "has a '..' part")
        try:
            paths.inside(unpack, member.name, "member")
        except paths.PathEscapeError:
            raise UntrustedSourceError.member(url, member.name, "leaves the unpack directory") from None
        yield member


def _unpack(tarball: Path, unpack: Path, url: str) -> None:
    shutil.rmtree(unpack, ignore_errors=True)
    unpack.mkdir(parents=True)
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            # "data" also refuses what the check above let through by mistake, and drops modes like setuid.
            tar.extractall(unpack, members=_checked_members(tar, unpack, url), filter="data")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ReleaseError(f"{url}: cannot unpack the staged source: {exc}") from None


def _check_git_dir(repo: Path, upstream: str, remote: str, url: str) -> None:
    """The restored .git runs nothing and names no other repository: krel's own clone has none of that."""
    gitdir = repo / ".git"
    if not gitdir.is_dir():
        raise ReleaseError(f"{url}: src/.git is not a directory; expected the staged clone")
    for name in _REDIRECTS:
        if (gitdir / name).exists():
            raise ReleaseError(f"{url}: src/.git/{name} points git elsewhere; refusing the staged source")
    hooks = gitdir / "hooks"
    planted = sorted(p.name for p in hooks.iterdir() if not p.name.endswith(".sample")) if hooks.is_dir() else []
    if planted:
        raise ReleaseError(f"{url}: src/.git/hooks/{planted[0]} is a hook; a staged clone has none")
    # Read as a plain file (--no-includes): reading the config must not follow what it includes.
    for key, value in git.config_file_entries(repo, gitdir / "config"):
        if not _CONFIG_ALLOWED.fullmatch(key):
            raise ReleaseError(f"{url}: src/.git/config sets {key}; a staged clone sets only what git clone writes")
        if key.startswith("remote.") and key.endswith(".url") and (key != f"remote.{remote}.url" or value != upstream):
            raise ReleaseError(f"{url}: src/.git/config {key} is {value!r}, not the profile's upstream {upstream}")


def _check_tags(repo: Path, tags: tuple[str, ...], commit: str, url: str) -> None:
    """Every tag names the build commit, or krel's empty release commit on top of it (release branches)."""
    build = git.rev_parse(repo, commit)
    for tag in tags:
        tagged = git.tag_commit(repo, tag)
        if tagged is None:
            raise ReleaseError(f"{url}: tag {tag} is missing in the staged source")
        if not git.is_on_commit(repo, tagged, build):
            raise ReleaseError(f"{url}: tag {tag} points to {tagged[:12]}, not to the build commit {build[:12]} "
                               "(or its release commit)")


@handles(RestoreWorkspace)
def restore_workspace(step: RestoreWorkspace, clients: Clients) -> None:
    """krel PrepareWorkspace at release: download src.tar.gz (checked against the provenance) and unpack it safely."""
    dest = Path(step.dest)
    done = dest.parent / _RESTORED
    if done.exists() and (dest / ".git").is_dir():
        return
    store = clients.store(step.bucket)
    url = f"{store.url}/{step.object_key}"
    data, subjects = verified_statement(step.verified_file)
    name = step.object_key.removeprefix(step.stage_prefix + "/")
    subject = subjects.get(name)
    if subject is None:
        raise ReleaseError(f"{url} is not a subject of the verified provenance; restage this build version")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tarball = dest.parent / "src.tar.gz"
    # Hashed while downloading, kept only if it is exactly the recorded subject: a swapped archive is never opened.
    provenance.fetch_verified(store, step.object_key, subject, tarball)
    unpack = dest.parent / "unpack.partial"
    _unpack(tarball, unpack, url)
    _check_git_dir(unpack / "src", step.upstream, step.remote, url)
    _check_tags(unpack / "src", step.tags, provenance.git_commit(data, step.verified_file), url)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(unpack / "src", dest)
    shutil.rmtree(unpack)
    tarball.unlink()
    done.write_text(step.object_key)


def _sync_branch(repo: Path, url: str, remote: str, branch: str, remote_heads: dict[str, str], author: Author) -> None:
    """Merge what the remote branch gained meanwhile (krel merges the release branch, rebases master)."""
    if branch not in remote_heads:
        return
    git.fetch(repo, url, (f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",))
    upstream = f"refs/remotes/{remote}/{branch}"
    if git.is_ancestor(repo, upstream, branch):
        return
    git.checkout(repo, branch)
    git.merge(repo, upstream, message=f"Merge remote-tracking branch '{remote}/{branch}'", author=author)


def _auth_env(url: str, token: str) -> dict[str, str] | None:
    """The token as an HTTP header through git's environment config: never in argv, .git/config or src.tar.gz."""
    if not token or not url.startswith("https://"):
        return None
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}


@checks(PushGitObjects)
def check_tags(step: PushGitObjects, clients: Clients) -> None:
    """A tag already on the profile's upstream must name the commit the restored workspace tags (krel's rule)."""
    # The profile's URL, not the restored clone's remote config: the staged archive is not trusted for where.
    remote_tags = git.ls_remote_tags(step.upstream)
    repo = Path(step.repo)
    for tag in step.tags:
        local = git.tag_commit(repo, tag)
        if local is None:
            raise ReleaseError(f"tag {tag} is missing in the restored workspace {repo}")
        if tag in remote_tags and remote_tags[tag] != local:
            raise git.TagConflictError.for_tag(tag, remote_tags[tag], local)


@handles(PushGitObjects)
def push_git_objects(step: PushGitObjects, clients: Clients) -> None:
    """krel PushGitObjects: tags (a remote tag on the same commit is a no-op, elsewhere an error), branches."""
    repo = Path(step.repo)
    # The profile's URL: the restored clone's remotes came from the staged archive and must not decide where the
    # token goes.
    url = step.upstream
    remote_tags = git.ls_remote_tags(url)
    refspecs: list[str] = []
    for tag in step.tags:
        local = git.tag_commit(repo, tag)
        if local is None:
            raise ReleaseError(f"tag {tag} is missing in the restored workspace {repo}")
        if tag in remote_tags:
            if remote_tags[tag] != local:
                raise git.TagConflictError.for_tag(tag, remote_tags[tag], local)
            clients.report.info(f"tag {tag} is already on the remote: no-op")
            continue
        refspecs.append(f"refs/tags/{tag}:refs/tags/{tag}")
    remote_heads = git.ls_remote_heads(url)
    for branch in step.branches:
        if not git.ref_exists(repo, f"refs/heads/{branch}"):
            git.fetch(repo, url, (f"+refs/heads/{branch}:refs/heads/{branch}",))
        _sync_branch(repo, url, step.remote, branch, remote_heads, step.author)
        refspecs.append(f"refs/heads/{branch}:refs/heads/{branch}")
    out = git.push(repo, url, refspecs, dry_run=step.dry_run, env=_auth_env(url, clients.github.token))
    log.info("git push%s:\n%s", " --dry-run" if step.dry_run else "", out)
    # porcelain: "<flag>\t<from>:<to>\t<summary>"; "=" means the remote already had it
    lines = [line.split("\t") for line in out.splitlines() if line.count("\t") >= 2]
    moved = [ref.split(":")[0] for flag, ref, *_ in lines if flag != "="]
    same = [ref.split(":")[0] for flag, ref, *_ in lines if flag == "="]
    verb = "would push" if step.dry_run else "pushed"
    up_to_date = f"; up to date: {', '.join(same)}" if same else ""
    clients.report.info(f"{verb} {', '.join(moved) or 'nothing'}{up_to_date}")
