"""Local repositories: what git will read for one, and whether all of it lies under the allowed roots.

git follows much more than the directory it is pointed at: a `.git` symlink or a `.git` file (`gitdir: …`),
a linked worktree's `commondir`, symlinks anywhere inside the git directory (`objects`, a pack, a loose object,
`refs`, `info/grafts`, `packed-refs`, `config`), `objects/info/alternates` (and the alternates of alternates),
`objects/info/http-alternates`, `include.path`/`includeIf.*.path` in its config, and in a work tree the
`.mailmap` and `.gitattributes` that the analysis reads. `inspect` resolves every one of them with realpath;
`check` refuses the repository when any lies outside `git_allowed_roots`.

Every refusal carries its reason for the server log only (`Refused.detail`): callers answer with one message
for a path that is missing, is not a repository, or lies outside the roots, so that connecting `/etc` or
`/proc/self` tells nothing about the server's disk (no oracle).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gitproductivity.core.settings import get_settings

#: git follows alternates of alternates up to this depth; so do we (deeper ones git ignores).
MAX_ALTERNATE_DEPTH = 5
#: Files of a work tree that the analysis reads besides the git directory.
WORKTREE_FILES = (".mailmap", ".gitattributes")
#: The most read of a `.git` file, `commondir` or `alternates` (real ones are a few lines; a huge one is hostile).
MAX_POINTER_BYTES = 64 * 1024


class Refused(Exception):
    """The path may not be connected or analysed; `detail` says why (for the server log, never for users)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class LocalRepository:
    path: Path  # the repository as given, resolved
    git_dir: Path  # resolved
    common_dir: Path  # resolved: the repository's objects and refs (its identity; shared by linked worktrees)
    followed: tuple[Path, ...]  # everything else git reads, resolved

    @property
    def identity(self) -> str:
        return f"local:{self.common_dir}"


def _realpath(path: Path | str) -> Path:
    return Path(os.path.realpath(path))


def _read(path: Path) -> str:
    """A small pointer file's text; refused when it is larger than any real one."""
    with path.open("rb") as handle:
        data = handle.read(MAX_POINTER_BYTES + 1)
    if len(data) > MAX_POINTER_BYTES:
        raise Refused(f"{path} is larger than {MAX_POINTER_BYTES} bytes")
    return data.decode(errors="replace")


def _git_dir(path: Path) -> tuple[Path, list[Path]]:
    """The git directory of a work tree or bare repository at `path` (resolved), and the work tree files read."""
    dot_git = path / ".git"
    if dot_git.is_symlink() or dot_git.is_dir():
        return _realpath(dot_git), [path / name for name in WORKTREE_FILES]
    if dot_git.is_file():
        text = _read(dot_git).strip()
        if not text.startswith("gitdir:"):
            raise Refused(f"{dot_git} is a file without a gitdir: line")
        target = Path(text.removeprefix("gitdir:").strip())
        return _realpath(path / target), [path / name for name in WORKTREE_FILES]
    if (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir():
        return path, []
    raise Refused(f"{path} is not a git repository")


def _symlinks(top: Path, seen: set[Path]) -> list[Path]:
    """The resolved targets of every symlink under `top` (and under the directories they point at)."""
    found: list[Path] = []
    pending = [top]
    while pending:
        directory = pending.pop()
        if directory in seen:
            continue
        seen.add(directory)
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            raise Refused(f"{directory} cannot be read ({exc.strerror or exc})") from None
        for entry in entries:
            if entry.is_symlink():
                target = _realpath(entry.path)
                found.append(target)
                if target.is_dir():
                    pending.append(target)
            elif entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
    return found


def _alternates(objects: Path, depth: int = 0) -> list[Path]:
    """The object directories `objects/info/alternates` adds, recursively as git follows them."""
    if depth >= MAX_ALTERNATE_DEPTH:
        return []
    found: list[Path] = []
    listing = objects / "info" / "alternates"
    if not listing.is_file():
        return found
    for raw in _read(listing).splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith('"') and line.endswith('"'):  # git's C-style quoting of unusual paths
            line = line[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        target = _realpath(objects / line)  # relative entries are relative to this objects directory
        found.append(target)
        found += _alternates(target, depth + 1)
    return found


def _config_includes(config: Path) -> list[Path]:
    """The files `include.path` and `includeIf.*.path` make git read with this config (parsed by git itself,
    which never runs anything for `git config --file … --list`)."""
    if not config.is_file():
        return []
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    done = subprocess.run(
        ["git", "config", "--no-includes", "--file", str(config), "--null", "--list"],
        capture_output=True,
        env=env,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise Refused(f"{config} is not a valid git config: {done.stderr.decode(errors='replace').strip()}")
    found: list[Path] = []
    for item in done.stdout.split(b"\0"):
        key, _, value = item.decode(errors="replace").partition("\n")
        if key.startswith(("include.", "includeif.")) and key.endswith(".path") and value:
            target = Path(value).expanduser()
            found.append(_realpath(target if target.is_absolute() else config.parent / target))
    return found


def inspect(path: Path) -> LocalRepository:
    """Resolve the repository at `path` and everything git follows from it. Refused when it is not one."""
    resolved = _realpath(path)
    try:
        if not resolved.is_dir():
            raise Refused(f"{resolved} does not exist or is not a directory")
        git_dir, worktree_files = _git_dir(resolved)
        if not git_dir.is_dir():
            raise Refused(f"{git_dir}, the git directory of {resolved}, is not a directory")
        common_file = git_dir / "commondir"
        common_dir = git_dir
        if common_file.is_file():
            common_dir = _realpath(git_dir / _read(common_file).strip())
        followed: list[Path] = [git_dir, common_dir]
        followed += [_realpath(f) for f in worktree_files if f.is_symlink()]
        seen: set[Path] = set()
        for top in dict.fromkeys((git_dir, common_dir)):
            followed += _symlinks(top, seen)
        objects = _realpath(common_dir / "objects")
        followed.append(objects)
        for alternate in _alternates(objects):
            followed.append(alternate)
            followed += _symlinks(alternate, seen)
        http_alternates = objects / "info" / "http-alternates"
        if http_alternates.is_file() and _read(http_alternates).strip():
            raise Refused(f"{http_alternates} points git at other servers")
        for config in dict.fromkeys((common_dir / "config", git_dir / "config.worktree")):
            followed += _config_includes(config)
    except OSError as exc:
        raise Refused(f"{resolved} cannot be read ({exc.strerror or exc})") from None
    return LocalRepository(resolved, git_dir, common_dir, tuple(dict.fromkeys(followed)))


def check(path: Path) -> LocalRepository:
    """`inspect`, then refuse when the repository or anything git follows from it lies outside the allowed
    roots. The roots are judged first, on the resolved path, before anything about the path is revealed."""
    roots = [_realpath(r) for r in get_settings().git_allowed_roots]

    def inside(candidate: Path) -> bool:
        return not roots or any(candidate.is_relative_to(root) for root in roots)

    try:
        resolved = _realpath(path)
    except (OSError, ValueError) as exc:  # a name too long, …: nothing git could open either
        raise Refused(f"{path!r} cannot be resolved ({exc})") from None
    if not inside(resolved):
        raise Refused(f"{resolved} is outside the allowed local roots")
    repo = inspect(path)
    for candidate in repo.followed:
        if not inside(candidate):
            raise Refused(f"{resolved} points git at {candidate}, outside the allowed local roots")
    return repo
