"""Reading git's `--raw -z -p -U0` output of one commit: its file pairs (exact paths and blob ids, from the raw
entries) with their hunks (from the patch), for the replay of history (`analysis.origins`); and line counts of
blobs, as blame counts lines, from one `git cat-file --batch` kept open."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitproductivity.analysis import git

ZERO = "0" * 40
_HUNKS = re.compile(rb"^@@ -([0-9]+)(?:,([0-9]+))? \+([0-9]+)(?:,([0-9]+))? @@", re.M)


class Unreadable(Exception):
    """The stream is not what the replay expects: the caller falls back to one blame per (commit, file)."""


@dataclass(slots=True)
class Change:
    """One file pair of a commit's diff: paths (None: absent on that side), blob ids, hunks, binary or not."""

    status: bytes
    old: bytes | None
    new: bytes | None
    old_blob: str
    new_blob: str
    hunks: list[tuple[int, int, int, int]] = field(default_factory=list)
    binary: bool = False


def raw_entries(body: bytes, at: int = 0) -> tuple[list[Change], int]:
    """The `--raw -z` entries at `body[at:]` (`:mode mode blob blob status NUL path NUL [path NUL]`), and where
    they end."""
    out: list[Change] = []
    while at < len(body) and body[at : at + 1] in (b"\n", b"\0"):
        at += 1
    while body[at : at + 1] == b":":
        end = body.find(b"\0", at)
        if end < 0:
            raise Unreadable("a raw entry without its path")
        meta = body[at + 1 : end].split(b" ")
        if len(meta) != 5:
            raise Unreadable(f"a raw entry of {len(meta)} fields")
        status = meta[4][:1]
        first_end = body.find(b"\0", end + 1)
        if first_end < 0:
            raise Unreadable("a raw entry without its path")
        first = body[end + 1 : first_end]
        at = first_end + 1
        second: bytes | None = None
        if status in (b"R", b"C"):
            second_end = body.find(b"\0", at)
            if second_end < 0:
                raise Unreadable("a rename without its destination")
            second, at = body[at:second_end], second_end + 1
        old_blob, new_blob = meta[2].decode(), meta[3].decode()
        if status == b"A":
            out.append(Change(status, None, first, ZERO, new_blob))
        elif status == b"D":
            out.append(Change(status, first, None, old_blob, ZERO))
        else:
            out.append(Change(status, first, second if second is not None else first, old_blob, new_blob))
        while body[at : at + 1] == b"\n":
            at += 1
    return out, at


def parse(body: bytes) -> list[Change]:
    """A commit's file pairs from its `--raw -z -p -U0` output: the raw entries (exact paths and blob ids), then
    one `diff --git` section per entry, in the same order, holding that pair's hunks. In `-U0` every content line
    starts with `+`, `-` or `\\`, so a line starting with `diff --git ` or `@@ -` is always git's own header."""
    changes, at = raw_entries(body)
    if not changes:
        return changes
    while body[at : at + 1] in (b"\0", b"\n"):
        at += 1
    if not body.startswith(b"diff --git ", at):
        raise Unreadable("raw entries without their patch")
    starts = [at]  # where each section starts (positions, not copies: the stream is read once)
    while (at := body.find(b"\ndiff --git ", at)) >= 0:
        at += 1
        starts.append(at)
    starts.append(len(body))
    sections = len(starts) - 1
    index = 0
    for change in changes:
        # A type change (a file turned symlink, say) is two sections in the patch: the deletion, then the creation.
        parts = 2 if change.status == b"T" and b"deleted file mode" in _header(body, starts, index) else 1
        if index + parts > sections:
            raise Unreadable(f"{len(changes)} raw entries but {sections} patch sections")
        for k in range(index, index + parts):
            start, end = starts[k], starts[k + 1]
            first = body.find(b"\n@@ -", start, end)
            if body.find(b"\nBinary files ", start, end if first < 0 else first) >= 0:
                change.binary = True
                continue
            if first < 0:
                continue
            for m in _HUNKS.finditer(body, first + 1, end):
                deleted = 1 if m.group(2) is None else int(m.group(2))
                added = 1 if m.group(4) is None else int(m.group(4))
                change.hunks.append((int(m.group(1)), deleted, int(m.group(3)), added))
        index += parts
    if index != sections:
        raise Unreadable(f"{len(changes)} raw entries but {sections} patch sections")
    return changes


def _header(body: bytes, starts: Sequence[int], index: int) -> bytes:
    """The header lines of section `index` (up to its first hunk)."""
    start, end = starts[index], starts[index + 1]
    first = body.find(b"\n@@ -", start, end)
    return body[start : end if first < 0 else first]


class BlobLines:
    """Line counts of blobs, as blame counts lines, from one `git cat-file --batch` process kept open."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.proc: subprocess.Popen[bytes] | None = None

    def __call__(self, blob: str) -> int:
        if self.proc is None:
            self.proc = subprocess.Popen(
                git.command(self.repo, ["cat-file", "--batch"]),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=git.git_env(self.repo),
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(blob.encode() + b"\n")
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) != 3 or not header[2].isdigit():
            raise Unreadable(f"cat-file cannot read blob {blob}")
        size = int(header[2])
        content = self.proc.stdout.read(size + 1)[:size]
        return content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None
