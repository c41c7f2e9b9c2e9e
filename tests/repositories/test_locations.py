"""Local repository locations (issue 12, findings 2 and 6): the allowed roots are judged first, on everything git
follows from a repository, with one answer for missing, not-a-repository and outside; again before each analysis.

Every hostile form is built for real, with git and symlinks, from a repository inside the allowed root and one
outside it whose author (Mallory) must never be counted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gitproductivity.analysis import git
from gitproductivity.core import settings
from gitproductivity.core.db import Database
from tests.analysis.gitrepo import Repo, drain, lines

ALICE = "Alice <alice@example.com>"
MALLORY = "Mallory <mallory@outside.example>"
ONE_MESSAGE = "is not a git repository, or lies outside the allowed local roots"


class Place:
    def __init__(self, tmp_path: Path) -> None:
        self.allowed = tmp_path / "allowed"
        self.outside_repo = Repo(tmp_path / "outside" / "repo")
        self.outside_repo.commit(MALLORY, "2026-01-01T10:00:00Z", {"secret.txt": lines(7)})
        self.outside = self.outside_repo.path

    def inside(self, name: str = "repo") -> Repo:
        repo = Repo(self.allowed / name)
        repo.commit(ALICE, "2026-01-02T10:00:00Z", {"a.txt": lines(3)})
        return repo


@pytest.fixture
def place(database: Database, database_url: str, tmp_path: Path) -> Iterator[Place]:
    here = Place(tmp_path)
    here.allowed.mkdir(parents=True, exist_ok=True)
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", git_allowed_roots=str(here.allowed))
    yield here


def _point_main_at_outside(inside: Repo, place: Place) -> None:
    (inside.path / ".git" / "refs" / "heads" / "main").write_text(place.outside_repo.head() + "\n")


def dot_git_symlink(inside: Repo, place: Place) -> None:
    shutil.rmtree(inside.path / ".git")
    (inside.path / ".git").symlink_to(place.outside / ".git")


def dot_git_file(inside: Repo, place: Place) -> None:
    shutil.rmtree(inside.path / ".git")
    (inside.path / ".git").write_text(f"gitdir: {place.outside / '.git'}\n")


def dot_git_file_relative(inside: Repo, place: Place) -> None:
    shutil.rmtree(inside.path / ".git")
    (inside.path / ".git").write_text(f"gitdir: {os.path.relpath(place.outside / '.git', inside.path)}\n")


def objects_symlink(inside: Repo, place: Place) -> None:
    shutil.rmtree(inside.path / ".git" / "objects")
    (inside.path / ".git" / "objects").symlink_to(place.outside / ".git" / "objects")
    _point_main_at_outside(inside, place)


def loose_object_symlinks(inside: Repo, place: Place) -> None:
    objects = place.outside / ".git" / "objects"
    for obj in objects.glob("??/*"):
        target = inside.path / ".git" / "objects" / obj.relative_to(objects)
        target.parent.mkdir(exist_ok=True)
        if not target.exists():
            target.symlink_to(obj)
    _point_main_at_outside(inside, place)


def commondir_file(inside: Repo, place: Place) -> None:
    (inside.path / ".git" / "commondir").write_text(f"{place.outside / '.git'}\n")


def alternates(inside: Repo, place: Place) -> None:
    (inside.path / ".git" / "objects" / "info" / "alternates").write_text(f"{place.outside / '.git' / 'objects'}\n")
    _point_main_at_outside(inside, place)


def alternates_relative(inside: Repo, place: Place) -> None:
    objects = inside.path / ".git" / "objects"
    relative = os.path.relpath(place.outside / ".git" / "objects", objects)
    (objects / "info" / "alternates").write_text(f"{relative}\n")
    _point_main_at_outside(inside, place)


def alternates_of_alternates(inside: Repo, place: Place) -> None:
    middle = place.inside("middle")
    (middle.path / ".git" / "objects" / "info" / "alternates").write_text(f"{place.outside / '.git' / 'objects'}\n")
    (inside.path / ".git" / "objects" / "info" / "alternates").write_text(f"{middle.path / '.git' / 'objects'}\n")
    _point_main_at_outside(inside, place)


def http_alternates(inside: Repo, place: Place) -> None:
    (inside.path / ".git" / "objects" / "info" / "http-alternates").write_text("http://169.254.169.254/objects\n")


def grafts_symlink(inside: Repo, place: Place) -> None:
    (place.outside.parent / "grafts").write_text("")
    (inside.path / ".git" / "info").mkdir(exist_ok=True)
    (inside.path / ".git" / "info" / "grafts").symlink_to(place.outside.parent / "grafts")


def config_include(inside: Repo, place: Place) -> None:
    (place.outside.parent / "extra-config").write_text("[user]\n\tname = x\n")
    with (inside.path / ".git" / "config").open("a") as config:
        config.write(f'[includeIf "gitdir:/"]\n\tpath = {place.outside.parent / "extra-config"}\n')


def mailmap_symlink(inside: Repo, place: Place) -> None:
    (place.outside.parent / "mailmap").write_text("Mallory <mallory@outside.example> <alice@example.com>\n")
    (inside.path / ".mailmap").symlink_to(place.outside.parent / "mailmap")


def worktree_of_outside(inside: Repo, place: Place) -> None:
    shutil.rmtree(inside.path)
    place.outside_repo.git("worktree", "add", "-q", "-b", "wt", str(inside.path))


def huge_dot_git_file(inside: Repo, place: Place) -> None:
    shutil.rmtree(inside.path / ".git")
    (inside.path / ".git").write_text(f"gitdir: {inside.path}/" + "x" * 200_000 + "\n")


def path_symlink(inside: Repo, place: Place) -> None:
    shutil.rmtree(inside.path)
    inside.path.symlink_to(place.outside)


Variant = Callable[[Repo, Place], None]
VARIANTS: list[Variant] = [
    dot_git_symlink,
    dot_git_file,
    dot_git_file_relative,
    objects_symlink,
    loose_object_symlinks,
    commondir_file,
    alternates,
    alternates_relative,
    alternates_of_alternates,
    http_alternates,
    grafts_symlink,
    config_include,
    mailmap_symlink,
    worktree_of_outside,
    huge_dot_git_file,
    path_symlink,
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.__name__)
def test_what_git_follows_outside_the_roots_is_refused_at_connect(
    api: TestClient, place: Place, variant: Variant
) -> None:
    inside = place.inside()
    variant(inside, place)
    resp = api.post("/v1/repositories", json={"url": str(inside.path)})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["message"] == f"url: {inside.path} {ONE_MESSAGE}"
    assert str(place.outside) not in resp.text  # the answer names nothing the caller did not write
    assert api.get("/v1/repositories").json()["data"] == []


@pytest.mark.parametrize(
    "variant",
    [dot_git_symlink, objects_symlink, commondir_file, alternates_of_alternates, mailmap_symlink, path_symlink],
    ids=lambda v: v.__name__,
)
def test_a_repository_changed_after_connecting_is_checked_again_before_analysis(
    api: TestClient, place: Place, variant: Variant
) -> None:
    inside = place.inside()
    created = api.post("/v1/repositories", json={"url": str(inside.path)})
    assert created.status_code == 201, created.text
    variant(inside, place)
    assert drain() == ["failed"]
    [analysis] = api.get(f"/v1/repositories/{created.json()['id']}/analyses").json()["data"]
    assert "is no longer a git repository, or lies outside the allowed local roots" in analysis["error"]
    assert api.get("/v1/developers").json()["data"] == []


def test_the_same_repositories_inside_the_roots_are_accepted(api: TestClient, place: Place) -> None:
    """What the variants above borrow is fine when it lies inside the roots: a worktree, alternates, symlinks."""
    origin = place.inside("origin")
    worktree = place.allowed / "wt"
    origin.git("worktree", "add", "-q", "-b", "wt", str(worktree))
    borrowing = place.inside("borrowing")
    (borrowing.path / ".git" / "objects" / "info" / "alternates").write_text(f"{origin.path / '.git' / 'objects'}\n")
    (place.allowed / "link").symlink_to(borrowing.path)
    for url in (str(worktree), str(place.allowed / "link")):
        resp = api.post("/v1/repositories", json={"url": url})
        assert resp.status_code == 201, (url, resp.text)
    assert sorted(drain()) == ["succeeded", "succeeded"]


@pytest.mark.parametrize(
    "url",
    [
        "/etc",
        "/proc/self",
        "/proc/self/cwd",
        "/definitely/not/here",
        "/root",
        "~root",
        "~no-such-user-here/repo",
        "file:///etc",
        "file:///proc/self/root/etc",
        "{outside}",
        "{outside}/.git",
        "{outside}/missing",
        "{allowed}/missing",
        "{allowed}/plain",
        "{allowed}/../outside/repo",
    ],
)
def test_missing_not_a_repository_and_outside_get_one_answer(api: TestClient, place: Place, url: str) -> None:
    """Connecting `/etc` or `/proc/self` says nothing about the server's disk (nor its PID): the roots are judged
    first, and missing, not-a-repository and outside are the same answer."""
    (place.allowed / "plain").mkdir()
    url = url.format(outside=place.outside, allowed=place.allowed)
    resp = api.post("/v1/repositories", json={"url": url})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["message"] == f"url: {url} {ONE_MESSAGE}"
    assert str(os.getpid()) not in resp.text


def test_without_roots_the_answers_are_the_same_too(api: TestClient, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    too_long = "/" + "a" * 300 + "/" + "b" * 300  # the file system refuses such names: once a 500
    for url in ("/etc", "/proc/self", str(tmp_path / "missing"), str(tmp_path / "plain"), too_long):
        resp = api.post("/v1/repositories", json={"url": url})
        assert resp.status_code == 422
        assert resp.json()["error"]["message"] == f"url: {url[:500]} {ONE_MESSAGE}"  # long ones are cut


def test_git_never_opens_a_parent_repository(tmp_path: Path) -> None:
    """A directory that stopped being a repository does not make git read the repository around it."""
    settings.configure(data_dir=tmp_path / "data")
    around = Repo(tmp_path / "around")
    around.commit(MALLORY, "2026-01-01T10:00:00Z", {"secret.txt": lines(1)})
    plain = around.path / "inner"
    plain.mkdir()
    with pytest.raises(git.GitError, match="not a git repository"):
        git.run(plain, ["log", "--format=%ae"])


def test_a_hostile_repository_config_runs_nothing_through_a_whole_analysis(api: TestClient, tmp_path: Path) -> None:
    """Every key a repository's config could use to make git run a program, and a diff driver in
    .gitattributes: the whole analysis (plan, log, numstat, mailmap) runs none of them."""
    marker = tmp_path / "ran"
    repo = Repo(tmp_path / "hostile")
    repo.commit(ALICE, "2026-01-01T10:00:00Z", {".gitattributes": "* diff=evil filter=evil\n", "a.txt": lines(3)})
    repo.commit(ALICE, "2026-01-02T10:00:00Z", {"a.txt": lines(5)})
    run = f"touch {marker}; false"
    for key in (
        "core.fsmonitor",
        "core.hooksPath",
        "core.sshCommand",
        "core.pager",
        "core.editor",
        "core.askPass",
        "core.alternateRefsCommand",
        "diff.external",
        "diff.evil.command",
        "diff.evil.textconv",
        "filter.evil.clean",
        "filter.evil.smudge",
        "filter.evil.process",
        "gpg.program",
        "credential.helper",
        "uploadpack.packObjectsHook",
        "sequence.editor",
        "alias.log",
    ):
        repo.git("config", key, f"!{run}" if key.startswith(("alias", "credential")) else run)
    (repo.path / ".git" / "hooks" / "post-checkout").write_text(f"#!/bin/sh\n{run}\n")
    (repo.path / ".git" / "hooks" / "post-checkout").chmod(0o755)
    assert api.post("/v1/repositories", json={"url": str(repo.path)}).status_code == 201
    assert drain() == ["succeeded"]
    assert not marker.exists()
    [developer] = api.get("/v1/developers").json()["data"]
    assert developer["email"] == "alice@example.com"
