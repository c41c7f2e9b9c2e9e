"""Fetching a remote repository for analysis: through the destination guard, with git's errors classified.

Right before each clone or fetch, `repositories.remotes.pin` resolves the host, refuses it when any address is
refused, and holds git to the addresses checked. What the analysis records (and users see) is one sentence per
kind of failure (`FetchFailure`), never git's own text: that would tell an open port from a closed one, or
echo an internal host's certificate names. git's whole stderr (credentials scrubbed) goes to the server log.
"""

from __future__ import annotations

import logging
import re
import socket
from enum import StrEnum
from pathlib import Path

from gitproductivity.analysis import git
from gitproductivity.core.netguard import DestinationRefused
from gitproductivity.repositories import remotes
from gitproductivity.repositories.urls import redact

log = logging.getLogger(__name__)


class FetchFailure(StrEnum):
    NOT_FOUND = "not_found"
    AUTHENTICATION_FAILED = "authentication_failed"
    UNREACHABLE = "unreachable"
    REFUSED_BY_POLICY = "refused_by_policy"
    TIMED_OUT = "timed_out"
    CORRUPT = "corrupt"


MESSAGES = {
    FetchFailure.NOT_FOUND: "the remote repository was not found",
    FetchFailure.AUTHENTICATION_FAILED: "authentication with the remote failed (check the URL's credentials or the "
    "server's ssh key and known hosts)",
    FetchFailure.UNREACHABLE: "the remote could not be reached (see the server log for git's message)",
    FetchFailure.REFUSED_BY_POLICY: "the remote's address is refused by policy (private or reserved; see "
    "GITPRODUCTIVITY_GIT_ALLOWED_NETWORKS)",
    FetchFailure.TIMED_OUT: "the remote did not answer in time",
    FetchFailure.CORRUPT: "the remote sent a corrupt or incomplete repository",
}

#: The first matching rule names the failure; anything else is UNREACHABLE (no detail is ever echoed).
_RULES: tuple[tuple[FetchFailure, re.Pattern[str]], ...] = (
    (FetchFailure.TIMED_OUT, re.compile(r"timed out|timeout", re.I)),
    (
        FetchFailure.UNREACHABLE,
        re.compile(
            r"could not resolve|connection refused|failed to connect|no route to host|network is unreachable|"
            r"connection reset|connection closed|empty reply|ssl|tls|certificate|gnutls|kex_exchange|"
            r"host key verification failed|name or service not known",
            re.I,
        ),
    ),
    (
        FetchFailure.AUTHENTICATION_FAILED,
        re.compile(
            r"authentication failed|permission denied|could not read (username|password)|access denied|"
            r"terminal prompts disabled|requested url returned error: 40[13]|invalid username or password",
            re.I,
        ),
    ),
    (
        FetchFailure.NOT_FOUND,
        re.compile(
            r"not found|does not appear to be a git repository|does not exist|no such (file|repository)|"
            r"requested url returned error: 404|not a git repository",
            re.I,
        ),
    ),
    (
        FetchFailure.CORRUPT,
        re.compile(r"corrupt|bad object|index-pack|fsck|did not send all necessary objects|early eof|invalid", re.I),
    ),
)


def classify(error: git.GitError) -> FetchFailure:
    if error.returncode is None:
        return FetchFailure.TIMED_OUT
    for failure, pattern in _RULES:
        if pattern.search(error.stderr or str(error)):
            return failure
    return FetchFailure.UNREACHABLE


def mirror(url: str, dest: Path) -> None:
    """Clone or fetch `url` into the bare mirror `dest`; GitError with a classified message when it fails."""
    verb = "fetch" if (dest / "HEAD").is_file() else "clone"
    try:
        pinned = remotes.pin(url)
    except DestinationRefused as exc:
        log.warning("git %s of %s refused by the destination guard: %s", verb, redact(url), exc)
        raise git.GitError(f"git {verb}: {MESSAGES[FetchFailure.REFUSED_BY_POLICY]}", 128) from None
    except (OSError, ValueError) as exc:  # socket.gaierror: the name does not resolve
        detail = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        log.warning("git %s of %s: the host cannot be resolved (%s)", verb, redact(url), detail)
        raise git.GitError(f"git {verb}: {MESSAGES[FetchFailure.UNREACHABLE]}", 128) from None
    try:
        git.clone_or_fetch(pinned.url, dest, config=pinned.config, env=pinned.env)
    except git.GitError as exc:
        if exc.returncode is None:
            raise  # "git clone timed out after N s": the timeout is ours, and says nothing about the remote
        failure = classify(exc)
        log.warning("git %s of %s failed: %s", verb, redact(url), failure.value)
        raise git.GitError(f"git {verb}: {MESSAGES[failure]}", exc.returncode, exc.stderr) from None
