"""The change categories' `git log`: one streamed record per commit (its header fields and its diff, found by
the id the reader expects next, never by a byte a name or a line could hold), the commit's author as an identity,
and the deleted ranges of a `-U0` diff (`parse_diff`, for the blame engine; the replay reads `--raw` entries with
`analysis.patches`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitproductivity.analysis import coauthors, git
from gitproductivity.analysis.commits import Skipped
from gitproductivity.analysis.commits import author as parse_author
from gitproductivity.analysis.exclusions import PathFilter
from gitproductivity.analysis.identities import canonical_email

log = logging.getLogger(__name__)
_FIELDS = ("%P", "%aN", "%aE", "%at", "%ct")
#: A commit's record starts with NUL, SOH, its id, NUL: found by the id the reader expects next, never by a byte
#: a name could contain.
_FORMAT = "--format=%x00%x01%H%x00" + "%x00".join(_FIELDS) + "%x00"
_LOG_ARGS = (
    "log",
    "--no-walk=unsorted",
    "--stdin",
    "--use-mailmap",
    "--encoding=UTF-8",
    "-M",
    "-p",
    "-U0",
    "--no-color",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    _FORMAT,
)
#: The replay's stream (`analysis.origins`): the raw entries (exact paths and blob ids) before each patch, and two
#: fields more, the author date's offset and the co-authors, so that the commit reader's counts come from the same
#: pass (`analysis.reader.Parser.commit`): the header is `REPLAY_FIELDS` long. The co-authors field starts with a
#: `T` so that no trailer a message holds can begin with the SOH of a record's start.
REPLAY_FIELDS = (*_FIELDS, "%ad", "T" + coauthors.FIELD)
_REPLAY_FORMAT = "--format=%x00%x01%H%x00" + "%x00".join(REPLAY_FIELDS) + "%x00"
REPLAY_ARGS = (*_LOG_ARGS[:-1], "--raw", "-z", "--no-abbrev", "--full-index", "--date=raw", _REPLAY_FORMAT)
_HUNK = re.compile(rb"@@ -([0-9]+)(?:,([0-9]+))? \+([0-9]+)(?:,([0-9]+))? @@")
_ESCAPES = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13, b'"': 34, b"\\": 92}


@dataclass
class Reading:
    """What one categories computation reads with, whichever engine: the repository, where to blame (made on
    first use), the path rules, the mailmap (`-c mailmap.blob=…`), the ignored revisions, git processes at once,
    and progress."""

    repo: Path
    blame_repo: Callable[[], Path]
    paths: PathFilter
    config: list[str]
    ignore_file: str | None = None
    ignored: set[str] = field(default_factory=set)
    pool: int = 1
    progress: Callable[[int], None] | None = None


@dataclass
class Commit:
    """One commit's figures, before identities are resolved to developers."""

    sha: str
    identity: str
    name: str
    when: int
    merge: bool
    ignored: bool = False
    new_work: int = 0
    refactor: int = 0
    young: dict[str, int] = field(default_factory=dict)  # origin identity -> deleted lines younger than the window
    origins: dict[str, int] = field(default_factory=dict)  # origin commit -> deleted lines (until classified)


def unquote(raw: bytes) -> bytes:
    """A path as git prints it in a diff header: C-quoted when it holds special bytes."""
    if not (raw.startswith(b'"') and raw.endswith(b'"') and len(raw) >= 2):
        return raw
    out = bytearray()
    body, i = raw[1:-1], 0
    while i < len(body):
        byte = body[i : i + 1]
        if byte == b"\\" and i + 1 < len(body):
            nxt = body[i + 1 : i + 2]
            if body[i + 1 : i + 4].isdigit() and len(body[i + 1 : i + 4]) == 3:
                out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, nxt[0]))
            i += 2
            continue
        out += byte
        i += 1
    return bytes(out)


def _side(raw: bytes, prefix: bytes) -> bytes | None:
    raw = unquote(raw.rstrip(b"\t"))
    if raw == b"/dev/null":
        return None
    return raw[len(prefix) :] if raw.startswith(prefix) else raw


def parse_diff(text: bytes, paths: PathFilter) -> tuple[int, dict[bytes, list[tuple[int, int]]]]:
    """new work, and the deleted ranges (first line, count) per old path, of one commit's `-U0` diff."""
    new_work = 0
    ranges: dict[bytes, list[tuple[int, int]]] = {}
    old: bytes | None = None
    new: bytes | None = None
    minus = plus = 0
    for line in text.split(b"\n"):
        if minus or plus:  # inside a hunk: exactly the lines its header announced
            if line[:1] == b"-" and minus:
                minus -= 1
                continue
            if line[:1] == b"+" and plus:
                plus -= 1
                continue
            if line[:1] == b"\\":
                continue
            minus = plus = 0  # git's output did not match its header: read on as headers
        if line.startswith(b"diff --git "):
            old = new = None
        elif line.startswith(b"--- "):
            old = _side(line[4:], b"a/")
        elif line.startswith(b"+++ "):
            new = _side(line[4:], b"b/")
        elif line.startswith(b"@@ -"):
            match = _HUNK.match(line)
            counted = new if new is not None else old
            if match is None or counted is None:
                continue
            deleted = 1 if match.group(2) is None else int(match.group(2))
            added = 1 if match.group(4) is None else int(match.group(4))
            minus, plus = deleted, added
            if paths.excluded(counted):
                continue
            new_work += max(0, added - deleted)
            if deleted and old is not None:
                ranges.setdefault(old, []).append((int(match.group(1)), deleted))
    return new_work, ranges


def records(
    repo: Path, commits: Sequence[str], config: list[str], *, replay: bool = False
) -> Iterable[tuple[str, list[bytes], bytes]]:
    """(commit, header fields, diff text) per commit, in order, from one streamed `git log`. When git fails (a
    commit it cannot read), the commits after the last complete one are read one at a time and an unreadable one
    is left out (the commit reader reports it); a timeout still fails the analysis."""
    if replay:  # every commit or none: a failure falls back to the blame engine
        yield from _stream(repo, commits, config, [0], REPLAY_ARGS, len(REPLAY_FIELDS))
        return
    done = [0]
    try:
        yield from _stream(repo, commits, config, done)
        return
    except git.GitError as exc:
        if exc.returncode is None:
            raise
        log.warning("%s: git log failed while reading change categories; reading one commit at a time: %s", repo, exc)
    for sha in commits[done[0] :]:
        try:
            yield from _stream(repo, [sha], config, [0])
        except git.GitError as exc:
            if exc.returncode is None:
                raise
            log.warning("%s: no change categories for commit %s, which git cannot read: %s", repo, sha, exc)


def _stream(
    repo: Path,
    commits: Sequence[str],
    config: list[str],
    done: list[int],
    args: Sequence[str] = _LOG_ARGS,
    fields: int = len(_FIELDS),
) -> Iterable[tuple[str, list[bytes], bytes]]:
    if not commits:
        return
    stdin = ("\n".join(commits) + "\n").encode()
    with git.stream(repo, [*config, *args], stdin=stdin) as chunks:
        yield from _parse(chunks, commits, done, fields)


def _parse(
    chunks: Iterable[bytes], commits: Sequence[str], done: list[int], fields: int
) -> Iterable[tuple[str, list[bytes], bytes]]:
    """The records of `commits`, in order, from git's output in chunks."""
    markers = [b"\0\x01" + sha.encode() + b"\0" for sha in commits]
    index = -1
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while index + 1 < len(markers):
            at = buffer.find(markers[index + 1], 0 if index < 0 else 1)
            if at < 0:
                break
            if index >= 0:
                done[0] = index + 1
                yield _record(commits[index], bytes(buffer[len(markers[index]) : at]), fields)
            del buffer[:at]
            index += 1
    if index >= 0:
        done[0] = index + 1
        yield _record(commits[index], bytes(buffer[len(markers[index]) :]), fields)


def _record(sha: str, body: bytes, fields: int) -> tuple[str, list[bytes], bytes]:
    parts = body.split(b"\0", fields)
    while len(parts) < fields + 1:
        parts.append(b"")
    return sha, parts[:fields], parts[fields]


#: An origin commit's identity ("" when it cannot be attributed) and author time (None when it has no date).
Origin = tuple[str, int | None]


def origin_of(name: bytes, email: bytes, at: bytes, ct: bytes) -> Origin:
    """Who wrote a line a commit deletes, and when: the commit's identity and time, its time alone when it has
    no author (a line keeps its age)."""
    found = parse_author(name, email, at, ct)
    if not isinstance(found, Skipped):
        return canonical_email(found.email), found.when
    dated = parse_author(b"-", b"-", at, ct)  # the date alone
    return "", None if isinstance(dated, Skipped) else dated.when


def commit_of(sha: str, header: list[bytes]) -> Commit | None:
    parents, name, email, at, ct = header[: len(_FIELDS)]
    found = parse_author(name, email, at, ct)
    if isinstance(found, Skipped):
        return None  # not counted anywhere (the commit reader reports why)
    return Commit(sha, canonical_email(found.email), found.name, found.when, b" " in parents.strip())
