"""Ownership at the analysed head: who wrote each surviving line, exactly as `git blame` (default options) says.

Every regular file of the tree at the head that is neither excluded (`analysis.exclusions`, the rules of the
commit analysis) nor binary (git's own test: a NUL byte in the first 8,000 bytes) is blamed with
`git blame --incremental` at the head, with `--ignore-revs-file` when the head has a `.git-blame-ignore-revs`
(and `GITPRODUCTIVITY_OWNERSHIP_IGNORE_REVS` is on). The commits that own lines are then attributed through the
same identities as commits (`git log --use-mailmap` with the head's `.mailmap`, `analysis.commits`,
`identities.canonical_email`); aliases and bots are resolved when the result is stored (`ownership_store`).

Incremental: a file's blame depends on its content and on the history that touched it. A run that starts from a
previous head (an ancestor of the new one, same rules) reuses a file's cached result when its blob is unchanged
AND no commit between the two heads touched its path (compared with every parent, so reverts, merges and
conflict resolutions count as touching); every other file is blamed again. Files are blamed in parallel, a
bounded number of git processes at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gitproductivity.analysis import git
from gitproductivity.analysis.commits import Skipped
from gitproductivity.analysis.commits import author as parse_author
from gitproductivity.analysis.exclusions import PathFilter
from gitproductivity.analysis.identities import canonical_email
from gitproductivity.core.settings import get_settings

log = logging.getLogger(__name__)

IGNORE_REVS = ".git-blame-ignore-revs"
#: Bump when a rule of this module changes: every repository's ownership is computed again.
VERSION = 1
#: git's `buffer_is_binary`: a NUL byte in the first 8,000 bytes.
BINARY_PROBE = 8000
#: A group line of `git blame --incremental`: `<commit> <source line> <result line> <number of lines>`. Header
#: lines always start with a keyword (`author`, `filename`, ...), never with an object id and three numbers.
_GROUP = re.compile(rb"([0-9a-f]{40}|[0-9a-f]{64}) [0-9]{1,12} [0-9]{1,12} ([0-9]{1,12})")

_FULL_ID = re.compile(rb"[0-9a-f]{40}|[0-9a-f]{64}")
#: Lines of `.git-blame-ignore-revs` read (a bound on what a repository supplies).
MAX_IGNORED_REVS = 100_000

#: A file's blame: commit -> lines it owns at the head.
Blame = dict[str, int]
#: A replay of history (`analysis.origins`, cost: about one `git log -p` of all history) is asked for instead of
#: one blame per file when at least this many files, and at least a tenth of the tree, are to be blamed (a first
#: or full computation; an incremental one blames its few files).
REPLAY_FILES = 50
REPLAY_SHARE = 10
#: What a replay of history knows at the head, given the ignored commits: raw path -> (blob id, its blame, or
#: None where only git blame can tell).
Known = Callable[[set[str]], dict[bytes, tuple[str, Blame | None]] | None]


#: Who a commit is: (identity, "" when it cannot be attributed; author time; name).
Who = tuple[str, int, str]


@dataclass
class CachedFile:
    blob: str
    commits: Blame | None  # None for a binary file


@dataclass
class Result:
    """Ownership at `head`: `files` is the new per-file cache (every counted or binary file of the tree);
    `owners` maps each commit that owns lines to its identity ("" when the commit cannot be attributed)."""

    head: str
    fingerprint: str
    files: dict[str, CachedFile]
    owners: dict[str, str]
    names: dict[str, tuple[int, str]] = field(default_factory=dict)  # identity -> (time, name), newest commit
    blamed: int = 0  # files blamed in this run (the others came from the cache)
    full: bool = True
    fresh: set[str] = field(default_factory=set)  # paths blamed (or found binary) in this run
    stale: set[str] = field(default_factory=set)  # cached paths this run replaced or removed
    met: dict[str, Who] = field(default_factory=dict)  # commits looked up in this run (the others were cached)

    def by_directory(self) -> dict[str, dict[str, int]]:
        """directory ("" for the root) -> identity -> lines, for every directory with a counted file."""
        owners = self.owners
        own: dict[str, dict[str, int]] = {}  # each file's own directory first, then passed up to its ancestors
        for path, cached in self.files.items():
            if not cached.commits:
                continue
            row = own.setdefault(path.rsplit("/", 1)[0] if "/" in path else "", {})
            for sha, count in cached.commits.items():
                who = owners.get(sha, "")
                row[who] = row.get(who, 0) + count
        out: dict[str, dict[str, int]] = {}
        for directory, row in own.items():
            parts = directory.split("/") if directory else []
            for above in [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]:
                total = out.setdefault(above, {})
                for who, count in row.items():
                    total[who] = total.get(who, 0) + count
        return out

    def files_by_directory(self) -> dict[str, int]:
        """directory -> counted (text, not excluded) files beneath it."""
        out: dict[str, int] = {}
        for path, cached in self.files.items():
            if cached.commits is None:
                continue
            parts = path.split("/")[:-1]
            for directory in [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]:
                out[directory] = out.get(directory, 0) + 1
        return out


@dataclass
class Previous:
    head: str
    fingerprint: str
    files: dict[str, CachedFile]
    commits: dict[str, Who] = field(default_factory=dict)  # who the commits met before are, under the same rules


def fingerprint(repo: Path, head: str, rules_fingerprint: str) -> str:
    """What decides every file's blame besides history: the commit analysis's rules (mailmap, exclusions), the
    head's `.git-blame-ignore-revs` (when used) and this module's version."""
    use = get_settings().ownership_ignore_revs
    parts = [rules_fingerprint, git.blob_id(repo, head, IGNORE_REVS) if use else "", use, VERSION]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def decode_path(raw: bytes) -> str:
    """A path as stored: UTF-8, with undecodable bytes written as `\\xNN` (what a database text column holds)."""
    return raw.decode("utf-8", "backslashreplace")


def tree(repo: Path, head: str, paths: PathFilter) -> dict[str, tuple[str, bytes]]:
    """Regular files of the tree at `head` that count: path -> (blob id, raw path). Excluded paths, symbolic links
    and submodules have no lines."""
    out: dict[str, tuple[str, bytes]] = {}
    listing = git.run(repo, ["ls-tree", "-r", "-z", "--full-tree", head])
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw = entry.partition(b"\t")
        mode, kind, blob = meta.split(b" ")
        if kind != b"blob" or mode not in (b"100644", b"100755") or paths.excluded(raw):
            continue
        out[decode_path(raw)] = (blob.decode(), raw)
    return out


def touched(repo: Path, base: str, head: str) -> set[str]:
    """Paths any commit in `base..head` changed, compared with each of its parents (`-m`), renames as two paths."""
    out = git.run(repo, ["log", "-m", "--no-renames", "--name-only", "-z", "--format=", f"{head}", f"^{base}"])
    return {decode_path(p.strip(b"\n")) for p in out.split(b"\0") if p.strip(b"\n")}


def binary_blobs(repo: Path, blobs: Iterable[str]) -> set[str]:
    """The blobs git considers binary (a NUL byte in their first 8,000 bytes), read with one `cat-file --batch`."""
    wanted = sorted(set(blobs))
    if not wanted:
        return set()
    out: set[str] = set()
    stdin = ("\n".join(wanted) + "\n").encode()
    with git.stream(repo, ["cat-file", "--batch"], stdin=stdin) as chunks:
        buffer = bytearray()
        index = 0
        for chunk in chunks:
            buffer += chunk
            while index < len(wanted):
                newline = buffer.find(b"\n")
                if newline < 0:
                    break
                header = bytes(buffer[:newline]).split(b" ")
                if len(header) != 3:  # `<id> missing`: nothing follows
                    del buffer[: newline + 1]
                    index += 1
                    continue
                size = int(header[2])
                if len(buffer) < newline + 1 + size + 1:
                    break
                if b"\0" in buffer[newline + 1 : newline + 1 + min(size, BINARY_PROBE)]:
                    out.add(wanted[index])
                del buffer[: newline + 1 + size + 1]
                index += 1
    return out


def blame(repo: Path, head: str, raw_path: bytes, ignore_revs: str | None) -> Blame:
    """commit -> lines it owns in the file at `head`, as `git blame` (default options) assigns them."""
    args = ["blame", "--incremental"]
    if ignore_revs:
        args += ["--ignore-revs-file", ignore_revs]
    path = raw_path.decode("utf-8", "surrogateescape")
    out = git.run(repo, [*args, head, "--", path], env={"GIT_LITERAL_PATHSPECS": "1"})
    counts: Blame = {}
    for line in out.split(b"\n"):
        match = _GROUP.fullmatch(line)
        if match:
            sha = match.group(1).decode()
            counts[sha] = counts.get(sha, 0) + int(match.group(2))
    return counts


def _blame_or_unattributed(repo: Path, head: str, raw_path: bytes, blob: str, ignore_revs: str | None) -> Blame:
    """The file's blame; when git cannot blame it (a damaged history), its lines are unattributed (commit "")
    rather than failing the analysis. A timeout still fails it."""
    try:
        return blame(repo, head, raw_path, ignore_revs)
    except git.GitError as exc:
        if exc.returncode is None:
            raise
        log.warning("%s: git blame failed for %r; its lines are unattributed: %s", repo, raw_path, exc)
        content = git.run(repo, ["cat-file", "blob", blob])
        count = content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)
        return {"": count} if count else {}


def identities(repo: Path, shas: Sequence[str], mailmap: str) -> dict[str, Who]:
    """commit -> (identity: canonical e-mail after the mailmap, "" when the commit cannot be attributed; author
    time; name)."""
    out: dict[str, Who] = {}
    if not shas:
        return out
    config = ["-c", f"mailmap.blob={mailmap}"] if mailmap else []
    fmt = "--format=%H%x00%aN%x00%aE%x00%at%x00%ct%x00"
    stdin = ("\n".join(shas) + "\n").encode()
    args = [*config, "log", "--no-walk=unsorted", "--stdin", "--use-mailmap", "--encoding=UTF-8", fmt]
    fields = git.run(repo, args, input=stdin).split(b"\0")
    for i in range(0, len(fields) - 5, 5):
        sha, name, email, at, ct = (f.strip(b"\n") for f in fields[i : i + 5])
        found = parse_author(name, email, at, ct)
        if isinstance(found, Skipped):
            out[sha.decode()] = ("", 0, "")
        else:
            out[sha.decode()] = (canonical_email(found.email), found.when, found.name)
    return out


def newest_names(commits: Iterable[Who]) -> dict[str, tuple[int, str]]:
    """identity -> (time, name) of its newest commit among `commits`."""
    names: dict[str, tuple[int, str]] = {}
    for who, when, name in commits:
        if who and (who not in names or when > names[who][0]):
            names[who] = (when, name)
    return names


def compute(
    repo: Path,
    *,
    head: str,
    paths: PathFilter,
    mailmap: str,
    rules_fingerprint: str,
    previous: Previous | None,
    workers: int | None = None,
    known: Known | None = None,
) -> Result:
    """Ownership at `head`, reusing what `previous` (the last computation) still proves; with `known`, when
    many files are to be blamed, a replay of history gives their blame (the files it cannot tell are blamed)."""
    settings = get_settings()
    fp = fingerprint(repo, head, rules_fingerprint)
    files = tree(repo, head, paths)
    reuse: dict[str, CachedFile] = {}
    incremental = (
        previous is not None
        and previous.fingerprint == fp
        and (previous.head == head or git.is_ancestor(repo, previous.head, head))
    )
    if incremental:
        assert previous is not None
        try:
            changed = touched(repo, previous.head, head) if previous.head != head else set()
        except git.GitError as exc:  # a new commit git cannot read: nothing is proven, everything is blamed
            if exc.returncode is None:
                raise
            incremental, changed = False, set(files)
        reuse = {p: c for p, c in previous.files.items() if p in files and files[p][0] == c.blob and p not in changed}
    todo = sorted(p for p in files if p not in reuse)
    binary = binary_blobs(repo, (files[p][0] for p in todo))
    result: dict[str, CachedFile] = dict(reuse)
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="gp-ownership-") as scratch:
        ignore_file = _ignore_revs_file(repo, head, Path(scratch)) if settings.ownership_ignore_revs else None
        worth = len(todo) >= REPLAY_FILES and len(todo) * REPLAY_SHARE >= len(files)
        replayed = (known(_ignored(ignore_file)) if known and worth else None) or {}

        def one(path: str) -> None:
            blob, raw = files[path]
            found = replayed.get(raw)
            if blob in binary:
                commits = None
            elif found is not None and found[0] == blob and found[1] is not None:
                commits = found[1]
            else:
                commits = _blame_or_unattributed(repo, head, raw, blob, ignore_file)
            with lock:
                result[path] = CachedFile(blob, commits)

        pool = workers or settings.analysis_shards or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=max(1, pool), thread_name_prefix="blame") as executor:
            for done in executor.map(one, todo):
                del done
    shas = sorted({sha for cached in result.values() for sha in cached.commits or () if sha})
    cached = previous.commits if incremental and previous is not None else {}
    met = identities(repo, [sha for sha in shas if sha not in cached], mailmap)
    who = {sha: cached[sha] if sha in cached else met[sha] for sha in shas if sha in cached or sha in met}
    owners = {sha: found[0] for sha, found in who.items()}
    names = newest_names(who.values())
    stale = set(previous.files) - set(reuse) if previous is not None else set()
    return Result(head, fp, result, owners, names, len(todo), not incremental, set(todo), stale, met)


def _ignored(ignore_file: str | None) -> set[str]:
    if not ignore_file:
        return set()
    return {line.strip() for line in Path(ignore_file).read_text().splitlines() if line.strip()}


def _ignore_revs_file(repo: Path, head: str, scratch: Path) -> str | None:
    """The head's `.git-blame-ignore-revs`, written where `git blame` can read it (the repository may be bare)."""
    if not git.blob_id(repo, head, IGNORE_REVS):
        return None
    text = git.run(repo, ["cat-file", "blob", f"{head}:{IGNORE_REVS}"])
    # git refuses the whole file for one line it cannot parse (an abbreviated id): only full ids are kept, so a
    # typo in a repository's file does not fail its analysis.
    ids = [line.split(b"#", 1)[0].strip().lower() for line in text.splitlines()[:MAX_IGNORED_REVS]]
    target = scratch / "ignore-revs"
    target.write_bytes(b"".join(i + b"\n" for i in ids if _FULL_ID.fullmatch(i)))
    return str(target)


def bus_factor(lines: dict[str, int]) -> int:
    """The fewest owners who together own at least half of the lines (0 when there are none)."""
    total = sum(lines.values())
    if total <= 0:
        return 0
    count = owned = 0
    for value in sorted(lines.values(), reverse=True):
        owned += value
        count += 1
        if 2 * owned >= total:
            break
    return count
