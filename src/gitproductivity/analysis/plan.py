"""Planning a run: which commits to read (all, the new ones, or none) and under which rules.

A full read happens the first time, on request, when a rule that decides the numbers changed (the fingerprint:
mailmap, .gitattributes, exclusions, bot patterns, counting version) or when history was rewritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitproductivity.analysis import categories, exclusions, git, reader
from gitproductivity.analysis.identities import DEFAULT_BOT_PATTERNS
from gitproductivity.core.settings import get_settings


@dataclass
class Plan:
    branch: str | None
    head: str | None
    mode: str  # full | incremental | up_to_date
    reason: str | None
    commits: Sequence[str]
    new_commits: int
    fingerprint: str
    paths: exclusions.PathFilter
    mailmap: str


def _fingerprint(path: Path, head: str | None, rules: list[exclusions.Rule]) -> str:
    """Everything besides the history that decides the numbers; when it changes, the history is read again."""
    settings = get_settings()
    worktree_mailmap = path / ".mailmap"
    parts: list[Any] = [
        git.blob_id(path, head, ".mailmap") if head else "",
        hashlib.sha256(worktree_mailmap.read_bytes()).hexdigest() if worktree_mailmap.is_file() else "",
        rules,
        [*DEFAULT_BOT_PATTERNS, *settings.bot_patterns],
        [*exclusions.DEFAULT_EXCLUDES, *settings.exclude_globs],
        settings.analysis_first_parent,
        settings.languages_hours,
        categories.fingerprint_parts(path, head),  # the change categories' own rules
        5,  # bump when a counting rule in the code changes (3: languages and hours; 4: change categories;
        # 5: co-authors always counted, not only with change categories on)
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def make(path: Path, *, branch: str | None, base: str | None, seen_fingerprint: str | None, full: bool) -> Plan:
    settings = get_settings()
    head = git.rev_parse(path, f"refs/heads/{branch}") if branch else git.rev_parse(path, "HEAD")
    if head is None and git.rev_parse(path, "HEAD") is not None and branch:
        raise git.GitError(f"branch {branch!r} not found in the repository")
    rules = exclusions.gitattributes_rules(path, head) if head else []
    paths = exclusions.PathFilter([*exclusions.DEFAULT_EXCLUDES, *settings.exclude_globs], rules)
    fingerprint = _fingerprint(path, head, rules)
    mailmap = f"{head}:.mailmap" if head and git.blob_id(path, head, ".mailmap") else ""
    first_parent = settings.analysis_first_parent
    reason: str | None = None
    if base is None:
        reason = "first"
    elif full:
        reason = "requested"
    elif fingerprint != seen_fingerprint:
        reason = "rules_changed"
    elif head is not None and base != head and not git.is_ancestor(path, base, head):
        reason = "force_push"
    if head is None:
        return Plan(branch, None, "full", reason, [], 0, fingerprint, paths, mailmap)
    if reason is None and base == head:
        return Plan(branch, head, "up_to_date", None, [], 0, fingerprint, paths, mailmap)
    if reason is None:
        commits = reader.list_commits(path, head, exclude=base, first_parent=first_parent)
        return Plan(branch, head, "incremental", None, commits, len(commits), fingerprint, paths, mailmap)
    commits = reader.list_commits(path, head, first_parent=first_parent)
    new = len(commits)
    if base is not None and git.rev_parse(path, base) is not None:
        new = len(reader.list_commits(path, head, exclude=base, first_parent=first_parent))
    return Plan(branch, head, "full", reason, commits, new, fingerprint, paths, mailmap)
