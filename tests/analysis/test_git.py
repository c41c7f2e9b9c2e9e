"""The git runner's safety: no command-running transports, no prompts, a timeout, no leaked credentials."""

from __future__ import annotations

import ast
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gitproductivity.analysis import git
from gitproductivity.core import settings
from tests.analysis.gitrepo import Repo, lines
from tests.conftest import restoring_settings

HANG = 30.0  # seconds a stuck git would take, against a git timeout of 0.5 s


def test_ext_transport_never_runs_a_command(tmp_path: Path, configured: Callable[..., settings.Settings]) -> None:
    configured(data_dir=tmp_path)
    marker = tmp_path / "pwned"
    with pytest.raises(git.GitError):
        git.clone_or_fetch(f"ext::sh -c touch% {marker}", tmp_path / "clone.git")
    assert not marker.exists()


def test_clone_then_fetch_keeps_a_bare_mirror(tmp_path: Path, configured: Callable[..., settings.Settings]) -> None:
    configured(data_dir=tmp_path, git_allowed_protocols=("file",))  # loopback stand-in for https
    origin = Repo(tmp_path / "origin")
    origin.commit("A <a@example.com>", "2026-01-01T00:00:00Z", {"a": lines(1)})
    mirror = tmp_path / "mirror.git"
    git.clone_or_fetch(f"file://{origin.path}", mirror)
    assert git.rev_parse(mirror, "refs/heads/main") == origin.head()
    assert git.default_branch(mirror) == "main"
    origin.commit("A <a@example.com>", "2026-01-02T00:00:00Z", {"a": lines(2)})
    git.clone_or_fetch(f"file://{origin.path}", mirror)
    assert git.rev_parse(mirror, "refs/heads/main") == origin.head()


def test_transports_outside_the_allowed_list_are_refused(
    tmp_path: Path, configured: Callable[..., settings.Settings]
) -> None:
    configured(data_dir=tmp_path)  # default: https and ssh only
    origin = Repo(tmp_path / "origin")
    origin.commit("A <a@example.com>", "2026-01-01T00:00:00Z", {"a": lines(1)})
    with pytest.raises(git.GitError, match="transport 'file' not allowed"):
        git.clone_or_fetch(f"file://{origin.path}", tmp_path / "mirror.git")


def test_credentials_never_appear_in_errors(tmp_path: Path, configured: Callable[..., settings.Settings]) -> None:
    configured(data_dir=tmp_path, git_timeout=20)
    with pytest.raises(git.GitError) as caught:
        git.clone_or_fetch("https://user:s3cret@127.0.0.1:9/nothing.git", tmp_path / "m.git")
    assert "s3cret" not in str(caught.value)


def test_a_hostile_repository_config_runs_nothing(tmp_path: Path, configured: Callable[..., settings.Settings]) -> None:
    configured(data_dir=tmp_path)
    repo = Repo(tmp_path / "r")
    repo.commit("A <a@example.com>", "2026-01-01T00:00:00Z", {"a": lines(1)})
    marker = tmp_path / "ran"
    repo.git("config", "core.fsmonitor", f"touch {marker}; false")
    repo.git("config", "diff.external", f"touch {marker}")
    git.run(repo.path, ["log", "--numstat", "--format=%H"])
    git.run(repo.path, ["status"])
    assert not marker.exists()


def test_timeout_ends_git_and_what_it_started(tmp_path: Path, configured: Callable[..., settings.Settings]) -> None:
    configured(data_dir=tmp_path, git_timeout=0.5)
    repo = Repo(tmp_path / "r")
    repo.commit("A <a@example.com>", "2026-01-01T00:00:00Z", {"a": lines(1)})
    hang = ["-c", f"alias.hang=!sleep {HANG:g}", "hang"]  # stands in for a stuck transfer; sleep is git's child
    started = time.monotonic()
    with pytest.raises(git.GitError, match="timed out"), git.stream(repo.path, hang) as out:
        for _chunk in out:
            pass
    with pytest.raises(git.GitError, match="timed out"):
        git.run(repo.path, hang)
    assert time.monotonic() - started < HANG / 2  # both ended at the timeout, not when the hang ended


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GITPRODUCTIVITY_GIT_ALLOWED_PROTOCOLS", "https,ext"),
        ("GITPRODUCTIVITY_BOT_PATTERNS", "[unclosed"),
        ("GITPRODUCTIVITY_ANALYSIS_NICE", "20"),
        ("GITPRODUCTIVITY_BOT_PATTERNS", r"(a)\1"),
        ("GITPRODUCTIVITY_EXCLUDE_GLOBS", "docs/[unclosed"),
        ("GITPRODUCTIVITY_EXCLUDE_GLOBS", "a" * 3000),
        ("GITPRODUCTIVITY_EXCLUDE_GLOBS", ",".join(f"dir{i}/" for i in range(201))),
        ("GITPRODUCTIVITY_ANALYSIS_CONCURRENCY", "0"),
        ("GITPRODUCTIVITY_GIT_TIMEOUT", "-1"),
    ],
)
def test_bad_analysis_settings_are_refused(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch, configured: Callable[..., settings.Settings]
) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        configured()


def test_settings_lists_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, configured: Callable[..., settings.Settings]
) -> None:
    monkeypatch.setenv("GITPRODUCTIVITY_EXCLUDE_GLOBS", "docs/generated/, *.snap")
    monkeypatch.setenv("GITPRODUCTIVITY_BOT_PATTERNS", "^ci-,deploy-bot")
    loaded = configured()
    assert loaded.exclude_globs == ("docs/generated/", "*.snap")
    assert loaded.bot_patterns == ("^ci-", "deploy-bot")


def test_settings_a_test_configures_are_restored_after_it() -> None:
    """What `configured` (and `restoring_settings`) does for every test here, even one that fails midway; and no
    test in this module calls `settings.configure` itself, which would leave its settings to the next test."""
    before = dict(settings._overrides)
    timeout = settings.get_settings().git_timeout
    with pytest.raises(RuntimeError), restoring_settings() as configure:
        configure(git_timeout=timeout + 7, git_allowed_protocols=("file",))
        assert settings.get_settings().git_timeout == timeout + 7
        raise RuntimeError("the test failed midway")
    assert settings._overrides == before
    assert settings.get_settings().git_timeout == timeout
    tree = ast.parse(Path(__file__).read_text())
    direct = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "configure" and getattr(node.value, "id", "") == "settings"
    ]
    assert direct == [], f"settings.configure called directly (not through `configured`) at lines {direct}"
