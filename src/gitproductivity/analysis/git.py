"""Running the git binary safely.

Every call gets the same hardening, because local repositories are not ours and remote URLs come from users:
no system or global config (`GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL=/dev/null`), no prompts
(`GIT_TERMINAL_PROMPT=0`, no askpass), only the transports in `git_allowed_protocols` (never `ext::` or
`fd::`, which run commands), `safe.directory=*` so repositories owned by another user can be read in place,
`core.fsmonitor` and hooks off (a repository's own config could otherwise make git run a program), no
external diff drivers or textconv, and a timeout after which the process is killed. git never looks above the
repository it is given for another one (`GIT_CEILING_DIRECTORIES`: a directory that stopped being a repository
does not make git read a parent outside the allowed roots), never follows http redirects or dumb-http
alternates to other hosts (`http.followRedirects=false`), and never uses a proxy from the environment (the
destination guard judges the address git itself connects to). When git fails, its whole stderr (credentials
scrubbed) goes to the server log; the error keeps the last line.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from gitproductivity.core.settings import get_settings

SAFE_CONFIG = (
    "safe.directory=*",
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "protocol.ext.allow=never",
    "protocol.fd.allow=never",
    "credential.helper=",
    "log.showSignature=false",
    "core.quotePath=false",
    "http.followRedirects=false",
)
#: Proxy variables curl (and so git) would honour: dropped, so that git connects to the address checked.
_PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"}

log = logging.getLogger(__name__)


_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
#: `scheme://user:secret@` in text a remote controls (git's stderr). Linear: the lookbehind starts each run of
#: scheme characters once (the old `[a-z][a-z0-9+.-]*://` was retried from every letter of a long word, which is
#: quadratic), and the possessive repeats never give back what they took. `_hide_credentials` keeps what comes
#: before the run's first letter, as the old leftmost match did.
_CREDENTIALS = re.compile(r"(?<![a-z0-9+.-])([a-z0-9+.-]*+)://[^/@\s]++@", re.IGNORECASE)


def _hide_credentials(match: re.Match[str]) -> str:
    run = match.group(1)
    return f"{run}://***@" if any(c.isascii() and c.isalpha() for c in run) else match.group(0)


class GitError(Exception):
    """git failed or timed out; the message never contains URL credentials. `returncode` is git's exit status
    (None after a timeout)."""

    def __init__(self, message: str, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr  # git's whole stderr, credentials scrubbed (for the server log and classification)

    @property
    def is_no(self) -> bool:
        """git answered "no" (exit status 1: not found, not an ancestor), rather than failing."""
        return self.returncode == 1


def git_env(repo: Path | None = None) -> dict[str, str]:
    settings = get_settings()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k.lower() not in _PROXY_VARIABLES}
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "true",
            "SSH_ASKPASS": "true",
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
            "GIT_ALLOW_PROTOCOL": ":".join(settings.git_allowed_protocols),
            "GIT_PROTOCOL_FROM_USER": "0",
            "GIT_OPTIONAL_LOCKS": "0",
            "LC_ALL": "C",
        }
    )
    if repo is not None:  # the repository itself, never a parent directory, is what git opens
        env["GIT_CEILING_DIRECTORIES"] = str(Path(os.path.abspath(repo)).parent)
    return env


#: Options every call of these subcommands gets: a repository's own config and .gitattributes may name a
#: textconv or external diff program (and reading a blob through textconv also runs its smudge filter); git
#: would run them while blaming, logging or showing.
NO_PROGRAMS = {
    "blame": ("--no-textconv",),
    "log": ("--no-ext-diff", "--no-textconv"),
    "show": ("--no-ext-diff", "--no-textconv"),
    "diff": ("--no-ext-diff", "--no-textconv"),
    "diff-tree": ("--no-ext-diff", "--no-textconv"),
}


def command(repo: Path | None, args: Sequence[str], config: Sequence[str] = ()) -> list[str]:
    cmd = ["git"]
    for item in (*SAFE_CONFIG, *config):
        cmd += ["-c", item]
    if repo is not None:
        cmd += ["-C", str(repo)]
    args = list(args)
    at = 0
    while at < len(args) and args[at] == "-c":  # the caller's own `-c key=value` pairs come before the command
        at += 2
    if at < len(args):
        args[at + 1 : at + 1] = NO_PROGRAMS.get(args[at], ())
    return cmd + args


def run(
    repo: Path | None,
    args: Sequence[str],
    *,
    input: bytes | None = None,
    timeout: float | None = None,
    config: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> bytes:
    """Run git and return its stdout; GitError (with git's own message) when it fails or times out. `config`
    and `env` add to the hardening (the destination pinned for a fetch), never replace it."""
    limit = timeout or get_settings().git_timeout
    proc = subprocess.Popen(
        command(repo, args, config),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**git_env(repo), **(env or {})},
        start_new_session=True,  # its own process group: a timeout also ends helpers git started (ssh, …)
    )
    try:
        out, err = proc.communicate(input, timeout=limit)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.communicate()
        raise GitError(f"git {args[0]} timed out after {limit:g} s") from None
    if proc.returncode != 0:
        raise _failure(args, err, proc.returncode)
    return out


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _failure(args: Sequence[str], stderr: bytes, returncode: int) -> GitError:
    """GitError with git's last stderr line; the whole stderr is logged (ssh puts the cause lines before the
    last, "… and the repository exists."). `user:secret@` in any URL is replaced by `***@` in both."""
    text = _CREDENTIALS.sub(_hide_credentials, stderr.decode("utf-8", "replace")).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if text:
        log.warning("git %s failed (exit status %s):\n%s", args[0], returncode, text)
    return GitError(f"git {args[0]}: {lines[-1] if lines else 'failed'}", returncode, text)


@contextmanager
def stream(repo: Path, args: Sequence[str], *, stdin: bytes | None = None) -> Iterator[Iterator[bytes]]:
    """Yield git's stdout in chunks as it is produced (nothing is buffered whole); killed at the timeout."""
    limit = get_settings().git_timeout
    proc = subprocess.Popen(
        command(repo, args),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=git_env(repo),
        start_new_session=True,
    )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        _kill(proc)

    timer = threading.Timer(limit, kill)
    timer.daemon = True
    timer.start()
    errors: list[bytes] = []
    drain = threading.Thread(target=lambda: errors.append(proc.stderr.read() if proc.stderr else b""), daemon=True)
    drain.start()
    feeder = None
    if stdin is not None:

        def feed() -> None:
            assert proc.stdin is not None
            try:
                proc.stdin.write(stdin)
                proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()

    def chunks() -> Iterator[bytes]:
        assert isinstance(proc.stdout, io.BufferedReader)
        while chunk := proc.stdout.read1(1 << 20):  # what is there (read() would wait for a whole MiB)
            yield chunk

    finished = False
    try:
        yield chunks()
        finished = True
    finally:
        if not finished:
            _kill(proc)  # the reader gave up: do not let git run on
        code = proc.wait()
        timer.cancel()
        drain.join()
        if feeder is not None:
            feeder.join()
        if proc.stdout is not None:
            proc.stdout.close()
        if finished and timed_out.is_set():
            raise GitError(f"git {args[0]} timed out after {limit:g} s")
        if finished and code != 0:
            raise _failure(args, b"".join(errors), code)


def rev_parse(repo: Path, rev: str) -> str | None:
    """The commit `rev` names, or None when it names nothing. A name that points at an object which is missing
    or not a commit (a damaged repository), a corrupt object store and a timeout raise GitError."""
    try:
        return run(repo, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"]).decode().strip()
    except GitError as exc:
        if not exc.is_no:
            raise
    target = "" if _OBJECT_ID.fullmatch(rev) else rev_parse_object(repo, rev)
    if target:
        raise GitError(f"git rev-parse: {rev} points at {target}, which is not a commit in the repository")
    return None


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    try:
        run(repo, ["merge-base", "--is-ancestor", ancestor, descendant])
    except GitError as exc:
        if exc.is_no:
            return False
        raise
    return True


def default_branch(repo: Path) -> str | None:
    """The branch HEAD points at (a bare clone's HEAD is the remote's default branch)."""
    try:
        ref = run(repo, ["symbolic-ref", "--quiet", "HEAD"]).decode().strip()
    except GitError as exc:
        if exc.is_no:  # a detached HEAD
            return None
        raise
    return ref.removeprefix("refs/heads/")


def blob_id(repo: Path, commit: str, path: str) -> str:
    """The blob id of `path` at `commit`, or "" when there is none (cheap fingerprint of .mailmap etc.)."""
    return rev_parse_object(repo, f"{commit}:{path}")


def rev_parse_object(repo: Path, spec: str) -> str:
    try:
        return run(repo, ["rev-parse", "--verify", "--quiet", "--end-of-options", spec]).decode().strip()
    except GitError as exc:
        if exc.is_no:
            return ""
        raise


def clone_or_fetch(url: str, dest: Path, *, config: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
    """Keep a bare mirror of a remote's branches in `dest`: clone the first time, fetch afterwards. `config` and
    `env` hold git to the destination checked (`repositories.remotes.pin`)."""
    if (dest / "HEAD").is_file():
        fetch = ["fetch", "--quiet", "--prune", "--force", "--no-tags", "--", url, "+refs/heads/*:refs/heads/*"]
        run(dest, fetch, config=config, env=env)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    try:
        run(None, ["clone", "--bare", "--quiet", "--no-tags", "--", url, str(partial)], config=config, env=env)
    except GitError:
        shutil.rmtree(partial, ignore_errors=True)  # a failed or timed-out clone leaves nothing behind
        raise
    partial.rename(dest)
