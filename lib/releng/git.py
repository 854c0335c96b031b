"""The real git binary, wrapped as small named functions; the same in every mode."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from releng.errors import ReleaseError
from releng.profile import Author
from releng.secrets import strip_url_credentials
from releng.version import release_branch_minor

# krel's order: merge commit, cherry-pick, revert, squash; the first pattern that matches wins.
_PR_PATTERNS = (
    re.compile(r"Merge pull request #(\d+)"),
    re.compile(r"automated-cherry-pick-of-#(\d+)"),
    re.compile(r"\(#(\d+)\)\s+This reverts commit"),
    re.compile(r"\(#(\d+)\)"),
)

# A repository's own config (a restored src.tar.gz, a clone) can name programs git runs: hooks, fsmonitor, ssh,
# pager, editors, credential helpers, the ext:: transport. `-c` on the command line beats every config file, so
# these hold for every git we run. (diff.external cannot be emptied by -c: diffs we run pass --no-ext-diff.)
SAFE_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.sshCommand=ssh",
    "core.pager=cat",
    "core.editor=true",
    "sequence.editor=true",
    "core.askPass=",
    "core.gitProxy=",
    "core.alternateRefsCommand=",
    "credential.helper=",
    "protocol.ext.allow=never",
    "uploadpack.packObjectsHook=",
    "tag.gpgSign=false",
    "commit.gpgSign=false",
)


class GitError(ReleaseError):
    """A git command failed; the message names the command and git's own first line of error."""

    @classmethod
    def from_process(cls, args: list[str], stderr: str) -> GitError:
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        detail = next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[0] if lines else "failed")
        return cls(strip_url_credentials(f"git {' '.join(args)}: {detail}"))


class TagConflictError(GitError):
    """A tag exists on another commit: tags are never moved."""

    @classmethod
    def for_tag(cls, tag: str, actual: str, expected: str) -> TagConflictError:
        return cls(f"tag {tag} already exists but points to commit {actual[:12]}, expected {expected[:12]}")


@dataclass(frozen=True)
class Commit:
    """One commit of a first-parent walk, with the PR number krel would take from its message."""

    sha: str
    message: str
    pr: int | None

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0] if self.message else ""


# Everything after it is a positional, even if it starts with '-' (checkout is the exception: see checkout()).
_EOO = "--end-of-options"


def positional(value: str, what: str) -> str:
    """The one guard for refs, URLs, remotes and paths handed to git: a leading '-' would be read as an option."""
    if not value or value.startswith("-") or "\0" in value:
        raise GitError(f"{what} {value!r} is not usable with git: expected a name, URL or path not starting with '-'")
    return value


def _argv(args: list[str], cwd: Path | None) -> list[str]:
    config = [arg for item in SAFE_CONFIG for arg in ("-c", item)]
    return ["git", *config, *(["-C", str(cwd)] if cwd is not None else []), *args]


def _env(author: Author | None, extra: dict[str, str] | None) -> dict[str, str]:
    env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
    if author is not None:
        env.update(
            GIT_AUTHOR_NAME=author.name,
            GIT_AUTHOR_EMAIL=author.email,
            GIT_COMMITTER_NAME=author.name,
            GIT_COMMITTER_EMAIL=author.email,
        )
    env.update(extra or {})
    return env


def _git(
    args: list[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    input: str | None = None,
    author: Author | None = None,
) -> str:
    full = _argv(args, cwd)
    try:
        proc = subprocess.run(full, capture_output=True, text=True, env=_env(author, env), input=input, check=False)
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror}") from exc
    if check and proc.returncode != 0:
        raise GitError.from_process(args, proc.stderr or proc.stdout)
    return proc.stdout


def run(
    repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True, input: str | None = None
) -> str:
    """Run `git -C repo args...` and return stdout; GitError on failure when check."""
    return _git(list(args), cwd=repo, env=env, check=check, input=input)


def clone(url: str, dest: Path, branch: str | None = None, bare: bool = False) -> Path:
    """git clone url dest (optionally one branch checked out, or bare)."""
    options = [*(["--bare"] if bare else []), *(["--branch", positional(branch, "branch")] if branch else [])]
    _git(["clone", "--quiet", *options, _EOO, positional(url, "clone URL"), str(dest.absolute())])
    return dest


def sparse_clone(url: str, dest: Path, branch: str, paths: list[str]) -> str:
    """A depth-1, blob-less clone of one branch with only `paths` checked out (large repositories); returns HEAD."""
    _git(["clone", "--quiet", "--depth", "1", "--sparse", "--filter=blob:none",
          "--branch", positional(branch, "branch"), _EOO, positional(url, "clone URL"), str(dest.absolute())])
    _git(["sparse-checkout", "set", "--", *(positional(p, "sparse path") for p in paths)], cwd=dest)
    return rev_parse(dest, "HEAD")


def shallow_update(repo: Path, branch: str) -> str:
    """Fetch the branch head (depth 1) into a sparse_clone and check it out; returns the new HEAD."""
    _git(["fetch", "--quiet", "--depth", "1", _EOO, "origin", f"refs/heads/{positional(branch, 'branch')}"], cwd=repo)
    _git(["reset", "--quiet", "--hard", "FETCH_HEAD"], cwd=repo)
    return rev_parse(repo, "HEAD")


def init(path: Path, bare: bool = False, branch: str = "master") -> Path:
    """git init with the given initial branch."""
    path.mkdir(parents=True, exist_ok=True)
    bare_flag = ["--bare"] if bare else []
    _git(["init", "--quiet", *bare_flag, f"--initial-branch={branch}", _EOO, str(path.absolute())])
    return path


def rev_parse(repo: Path, rev: str) -> str:
    """Full sha of the commit rev names."""
    spec = f"{positional(rev, 'revision')}^{{commit}}"
    out = _git(["rev-parse", "--verify", "--quiet", _EOO, spec], cwd=repo, check=False).strip()
    if not out:
        raise GitError(f"unknown revision {rev!r} in {repo}")
    return out


def ref_exists(repo: Path, ref: str) -> bool:
    args = ["rev-parse", "--verify", "--quiet", _EOO, positional(ref, "ref")]
    return bool(_git(args, cwd=repo, check=False).strip())


def current_branch(repo: Path) -> str | None:
    """The checked-out branch, or None on a detached HEAD."""
    out = _git(["symbolic-ref", "--quiet", "--short", "HEAD"], cwd=repo, check=False).strip()
    return out or None


def describe(repo: Path, rev: str = "HEAD", match: str = "v*", abbrev: int = 14) -> str:
    """git describe --tags (the k/k hack/lib/version.sh convention)."""
    args = ["describe", "--tags", f"--match={match}", f"--abbrev={abbrev}", _EOO, positional(rev, "revision")]
    return _git(args, cwd=repo).strip()


def merge_base(repo: Path, a: str, b: str) -> str:
    args = ["merge-base", _EOO, positional(a, "revision"), positional(b, "revision")]
    out = _git(args, cwd=repo, check=False).strip()
    if not out:
        raise GitError(f"no merge base between {a!r} and {b!r} in {repo}")
    return out


def is_ancestor(repo: Path, a: str, b: str) -> bool:
    args = ["merge-base", "--is-ancestor", _EOO, positional(a, "revision"), positional(b, "revision")]
    return subprocess.run(_argv(args, repo), capture_output=True, env=_env(None, None)).returncode == 0


def pr_number(message: str) -> int | None:
    """PR number from a commit message, krel's patterns in krel's order."""
    for pattern in _PR_PATTERNS:
        match = pattern.search(message)
        if match:
            return int(match.group(1))
    return None


def first_parent_commits(repo: Path, end: str, start: str) -> list[Commit]:
    """First-parent walk from end back to merge-base(start, end), newest first (krel's notes gathering)."""
    end_sha = rev_parse(repo, end)
    stop = merge_base(repo, rev_parse(repo, start), end_sha)
    out = _git(["log", "--first-parent", "--format=%H%x00%B%x1e", _EOO, f"{stop}..{end_sha}"], cwd=repo)
    commits = []
    for record in out.split("\x1e"):
        record = record.strip("\n")
        if not record:
            continue
        sha, _, message = record.partition("\x00")
        message = message.strip("\n")
        commits.append(Commit(sha=sha, message=message, pr=pr_number(message)))
    return commits


def show_file(repo: Path, rev: str, path: str) -> str | None:
    """Content of path at rev, None when the file does not exist there."""
    args = ["show", "--no-ext-diff", "--no-textconv", _EOO, f"{positional(rev, 'revision')}:{path}"]
    proc = subprocess.run(_argv(args, repo), capture_output=True, text=True, env=_env(None, None))
    return proc.stdout if proc.returncode == 0 else None


def tags(repo: Path, pattern: str = "v*") -> list[str]:
    out = _git(["tag", "--list", _EOO, positional(pattern, "tag pattern")], cwd=repo)
    return [t for t in out.splitlines() if t]


def tag_commit(repo: Path, tag: str) -> str | None:
    """Commit a tag points to (peeled), None when the tag does not exist."""
    spec = f"refs/tags/{positional(tag, 'tag')}^{{commit}}"
    out = _git(["rev-parse", "--verify", "--quiet", _EOO, spec], cwd=repo, check=False).strip()
    return out or None


def is_on_commit(repo: Path, sha: str, target: str) -> bool:
    """sha is target, or krel's empty release commit on top of it (first parent target, no tree change)."""
    return sha == target or _is_empty_commit_on(repo, sha, target)


def _is_empty_commit_on(repo: Path, sha: str, parent: str) -> bool:
    """True when sha is an empty commit whose only parent is `parent` (krel's release commit)."""
    if parents(repo, sha) != [parent]:
        return False
    # Same tree as the parent: compared by tree id, which also covers what diff-tree hides (merges).
    return rev_parse_tree(repo, sha) == rev_parse_tree(repo, parent)


def parents(repo: Path, rev: str) -> list[str]:
    """The parent shas of one commit, first parent first."""
    return _git(["rev-list", "--parents", "-n", "1", _EOO, positional(rev, "commit")], cwd=repo).split()[1:]


def commit_message(repo: Path, rev: str) -> str:
    """The full message of one commit, without its trailing newline."""
    return _git(["log", "-1", "--format=%B", _EOO, positional(rev, "commit")], cwd=repo).strip()


def commit_time(repo: Path, rev: str) -> int:
    """The committer time of the commit rev names, in seconds since the epoch (SOURCE_DATE_EPOCH); GitError when
    rev names no commit."""
    return int(_git(["log", "-1", "--format=%ct", _EOO, rev_parse(repo, rev)], cwd=repo).strip())


def root_commits(repo: Path, end: str) -> list[str]:
    """The parentless commits reachable from end (a repository's first commit; more after an unrelated merge)."""
    return _git(["rev-list", "--max-parents=0", _EOO, positional(end, "revision")], cwd=repo).split()


def count_commits(repo: Path, start: str, end: str) -> int:
    """How many commits `end` has that `start` has not (git rev-list --count start..end)."""
    spec = f"{positional(start, 'revision')}..{end}"
    return int(_git(["rev-list", "--count", _EOO, spec], cwd=repo).strip())


def own_commits(repo: Path, rev: str, *others: str) -> list[str]:
    """The non-merge commits of rev that none of `others` has (git rev-list --no-merges rev ^other...)."""
    excluded = [f"^{positional(other, 'revision')}" for other in others]
    return _git(["rev-list", "--no-merges", _EOO, positional(rev, "revision"), *excluded], cwd=repo).split()


def merged_tags(repo: Path, end: str, pattern: str = "v*") -> list[str]:
    """The tags matching pattern that are reachable from end."""
    args = ["tag", "--merged", positional(end, "revision"), "--list", _EOO, positional(pattern, "tag pattern")]
    return _git(args, cwd=repo).split()


def rev_parse_tree(repo: Path, rev: str) -> str:
    """The tree id of a commit."""
    return _git(["rev-parse", "--verify", _EOO, f"{positional(rev, 'revision')}^{{tree}}"], cwd=repo).strip()


def tag(
    repo: Path, name: str, commit: str, message: str, author: Author, *, on_release_commit: bool = False
) -> bool:
    """Create annotated tag `name` at commit; False if it already exists there (krel's idempotent re-tagging).

    With on_release_commit (release branches only, as krel), an existing tag on the empty release commit on top of
    commit also counts as there; on the default branch krel has no release commit and such a tag is a conflict.
    """
    target = rev_parse(repo, commit)
    existing = tag_commit(repo, name)
    if existing is not None:
        if existing == target or (on_release_commit and is_on_commit(repo, existing, target)):
            return False
        raise TagConflictError.for_tag(name, existing, target)
    _git(["tag", "--annotate", "--message", message, _EOO, positional(name, "tag"), target], cwd=repo,
         author=author)
    return True


def update_ref(repo: Path, ref: str, new: str | None, old: str) -> None:
    """Move ref from old to new (None deletes it); git refuses when ref is no longer at old."""
    if new is None:
        _git(["update-ref", "-d", _EOO, positional(ref, "ref"), old], cwd=repo)
    else:
        _git(["update-ref", _EOO, positional(ref, "ref"), positional(new, "commit"), old], cwd=repo)


def reset_keep(repo: Path, rev: str) -> None:
    """Move the checked-out branch and its files to rev, refusing to touch a file with local changes."""
    _git(["reset", "--quiet", "--keep", positional(rev, "commit")], cwd=repo)  # reset takes no --end-of-options


def unstage(repo: Path, paths: list[str]) -> None:
    """Best effort: take paths out of the index again (git reset -- paths); a failure is ignored."""
    _git(["reset", "--quiet", "--", *paths], cwd=repo, check=False)


def dirty_paths(repo: Path, paths: list[str]) -> list[str]:
    """The paths below `paths` with uncommitted, untracked or ignored content, sorted."""
    args = ["status", "--porcelain", "-z", "--untracked-files=all", "--ignored", "--", *paths]
    return sorted({entry[3:] for entry in _git(args, cwd=repo).split("\0") if len(entry) > 3})


def tracked_files(repo: Path, under: str) -> list[str]:
    """The files git tracks below the directory `under`."""
    return [name for name in _git(["ls-files", "-z", "--", under], cwd=repo).split("\0") if name]


def tree_modes(repo: Path, ref: str, paths: list[str]) -> list[tuple[str, str]]:
    """(mode, path) of each entry of ref's tree at `paths` (whole-tree paths; 120000 is a symbolic link)."""
    args = ["ls-tree", "-z", "--full-tree", positional(ref, "branch"), "--", *paths]
    entries = []
    for entry in filter(None, _git(args, cwd=repo).split("\0")):
        meta, name = entry.split("\t", 1)
        entries.append((meta.split()[0], name))
    return entries


def config_file_entries(repo: Path, path: Path) -> list[tuple[str, str]]:
    """(key, value) of every entry in one config file, read as a plain file: its includes are not followed."""
    listing = _git(["config", "--file", str(path), "--no-includes", "--list", "-z"], cwd=repo)
    return [(key, value) for key, _, value in (entry.partition("\n") for entry in filter(None, listing.split("\0")))]


def checkout_detached(repo: Path, rev: str) -> None:
    """Check out rev on a detached HEAD."""
    _git(["checkout", "--quiet", "--detach", positional(rev, "revision"), "--"], cwd=repo)


def release_commit(repo: Path, message: str, author: Author) -> str:
    """The empty 'Release commit for …' krel makes on release branches before tagging."""
    _git(["commit", "--allow-empty", "--quiet", "--message", message], cwd=repo, author=author)
    return rev_parse(repo, "HEAD")


def checkout(
    repo: Path, ref: str, create: bool = False, start: str | None = None, force_create: bool = False
) -> None:
    """git checkout ref; -b with create, -B with force_create (krel: `checkout -B release-x.y <commit>`)."""
    flag = ["-B"] if force_create else ["-b"] if create else []
    # checkout reads what follows `--` as paths, so the trailing `--` marks ref and start as revisions.
    start_args = [positional(start, "start point")] if start else []
    _git(["checkout", "--quiet", *flag, positional(ref, "ref"), *start_args, "--"], cwd=repo)


def merge(
    repo: Path, ref: str, message: str | None = None, ff_only: bool = False, author: Author | None = None
) -> str:
    """Merge ref into the current branch; returns the new HEAD."""
    args = ["merge", "--quiet", "--no-edit", *(["--ff-only"] if ff_only else []), *(["-m", message] if message else [])]
    _git([*args, _EOO, positional(ref, "ref")], cwd=repo, author=author)
    return rev_parse(repo, "HEAD")


def commit_paths(repo: Path, paths: list[str], message: str, author: Author) -> str | None:
    """Stage paths and commit them; None when nothing changed."""
    _git(["add", "--", *paths], cwd=repo)
    unchanged = subprocess.run(_argv(["diff", "--cached", "--quiet", "--no-ext-diff"], repo), env=_env(None, None))
    if unchanged.returncode == 0:
        return None
    _git(["commit", "--quiet", "--message", message], cwd=repo, author=author)
    return rev_parse(repo, "HEAD")


def remote_url(repo: Path, remote: str = "origin") -> str:
    return _git(["remote", "get-url", _EOO, positional(remote, "remote")], cwd=repo).strip()


def set_remote_url(repo: Path, remote: str, url: str) -> None:
    args = [_EOO, positional(remote, "remote"), positional(url, "remote URL")]
    if _git(["remote"], cwd=repo).split().count(remote):
        _git(["remote", "set-url", *args], cwd=repo)
    else:
        _git(["remote", "add", *args], cwd=repo)


def fetch(repo: Path, remote: str = "origin", refspecs: tuple[str, ...] = ()) -> None:
    """git fetch --tags from a remote name or URL."""
    args = ["fetch", "--quiet", "--tags", _EOO, positional(remote, "remote")]
    _git([*args, *(positional(r, "refspec") for r in refspecs)], cwd=repo)


def fetch_branches(repo: Path, url: str, branches: list[str], *, filter: str, depth: int | None = None,
                   tags: bool = False) -> None:
    """Fetch branches of url into the same-named local branches, partially (`--filter`), optionally shallow."""
    options = [f"--filter={filter}", *([f"--depth={depth}"] if depth else []), *(["--tags"] if tags else [])]
    refspecs = [f"+refs/heads/{b}:refs/heads/{b}" for b in (positional(b, "branch") for b in branches)]
    _git(["fetch", "--quiet", *options, _EOO, positional(url, "upstream URL"), *refspecs], cwd=repo)


def _ls_remote(args: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for line in _git(["ls-remote", *args]).splitlines():  # args end with --end-of-options URL [refs]
        sha, _, ref = line.partition("\t")
        if ref:
            pairs.append((sha, ref))
    return pairs


def ls_remote_heads(url: str, branch: str | None = None) -> dict[str, str]:
    """Branch name -> sha on the remote (url may be a path or a remote URL)."""
    args = ["--heads", _EOO, positional(url, "remote URL"),
            *([f"refs/heads/{positional(branch, 'branch')}"] if branch else [])]
    return {ref.removeprefix("refs/heads/"): sha for sha, ref in _ls_remote(args)}


def ls_remote_tags(url: str) -> dict[str, str]:
    """Tag -> commit sha on the remote, annotated tags peeled."""
    result: dict[str, str] = {}
    for sha, ref in _ls_remote(["--tags", _EOO, positional(url, "remote URL")]):
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            result[name[:-3]] = sha
        else:
            result.setdefault(name, sha)
    return result


def remote_branch_exists(url: str, branch: str) -> bool:
    return branch in ls_remote_heads(url, branch)


def push(
    repo: Path, remote: str, refspecs: list[str], dry_run: bool, env: dict[str, str] | None = None
) -> str:
    """git push --atomic [--dry-run] remote refspecs (remote: a name or a URL); returns git's report.

    Atomic: the tags and branches of a release land together or not at all (a rejected branch moves nothing).
    """
    args = ["push", "--porcelain", "--atomic", *(["--dry-run"] if dry_run else []), _EOO, positional(remote, "remote")]
    return strip_url_credentials(_git([*args, *(positional(r, "refspec") for r in refspecs)], cwd=repo, env=env))


def local_branches(repo: Path) -> list[str]:
    """Every branch repo knows, by short name: its own heads and its remote-tracking branches (remote name dropped)."""
    names = []
    for ref in _git(["for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes"], cwd=repo).splitlines():
        if ref.startswith("refs/heads/"):
            names.append(ref.removeprefix("refs/heads/"))
        elif ref.startswith("refs/remotes/") and ref.count("/") >= 3:
            names.append(ref.split("/", 3)[3])  # refs/remotes/<remote>/<branch>
    return names


def latest_release_branch(url: str) -> str | None:
    """The highest release-X.Y branch on the remote."""
    found = [(minor, b) for b in ls_remote_heads(url) if (minor := release_branch_minor(b))]
    return max(found)[1] if found else None
