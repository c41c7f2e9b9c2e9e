"""One canonical e-mail form (lower case, Unicode IDNA domain) for developers, aliases and commit identities."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from gitproductivity.analysis.identities import canonical_email
from gitproductivity.core.emails import fold_email, normalize_email
from gitproductivity.core.errors import ValidationFailed
from tests.analysis.gitrepo import Repo, drain, lines

SPELLINGS = [
    "dev@xn--bcher-kva.de", "Dev@XN--BCHER-KVA.DE", "dev@bücher.de", "DEV@BÜCHER.DE", "dev@xn--BCHER-kva.de",
    "dev@bücher\u3002de", "dev@\uff42ücher.de",  # an ideographic full stop, a full-width letter
]  # fmt: skip


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_an_address_has_one_canonical_form(spelling: str) -> None:
    assert fold_email(spelling) == "dev@bücher.de"
    assert normalize_email(spelling) == "dev@bücher.de"
    assert canonical_email(f" {spelling} ") == "dev@bücher.de"


def test_a_decomposed_local_part_is_the_composed_one() -> None:
    decomposed, composed = "zoe\u0308@example.com", "zo\u00eb@example.com"  # git keeps whatever bytes it was given
    assert fold_email(decomposed) == fold_email(composed) == normalize_email(decomposed) == composed


def test_addresses_git_accepts_are_folded_never_refused() -> None:
    assert fold_email("Root@(none)") == "root@(none)"
    assert fold_email("no-at-sign") == "no-at-sign"
    assert fold_email("x@xn--zz") == "x@xn--zz"  # not a valid A-label: kept, lower-cased
    assert fold_email("a@b@Example.COM") == "a@b@example.com"
    assert fold_email("dev@Example.COM.") == "dev@example.com"  # the DNS root dot
    assert fold_email("dev@bücher.de.") == "dev@bücher.de" and fold_email("x@.") == "x@."
    with pytest.raises(ValidationFailed):
        normalize_email("dev@xn--zz")


@given(st.text(max_size=80))
def test_folding_never_fails_and_is_stable(value: str) -> None:
    once = fold_email(value)
    assert fold_email(once) == once


def _developers(api: TestClient) -> list[dict[str, object]]:
    return list(api.get("/v1/developers").json()["data"])


def test_commits_by_punycode_and_unicode_spellings_are_one_developer(api: TestClient, tmp_path: Path) -> None:
    added = api.post("/v1/developers", json={"name": "Dev", "email": "dev@xn--bcher-kva.de"})
    assert added.status_code == 201, added.text
    assert added.json()["email"] == "dev@bücher.de"
    repo = Repo(tmp_path / "r")
    for day, spelling in enumerate(["dev@xn--bcher-kva.de", "Dev@XN--BCHER-KVA.DE", "dev@bücher.de", "DEV@BÜCHER.de"]):
        repo.commit(f"Dev <{spelling}>", f"2026-03-0{day + 1}T10:00:00Z", {f"f{day}": lines(1)})
    api.post("/v1/repositories", json={"url": str(repo.path)})
    assert drain() == ["succeeded"]
    devs = _developers(api)
    assert [(d["id"], d["email"]) for d in devs] == [(added.json()["id"], "dev@bücher.de")]
    team = api.get("/v1/metrics/developers").json()["data"]
    assert [(d["email"], d["totals"]["commits"]) for d in team] == [("dev@bücher.de", 4)]


def test_history_alone_makes_one_developer_of_both_spellings(api: TestClient, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("Dev <dev@xn--bcher-kva.de>", "2026-03-01T10:00:00Z", {"a": lines(1)})
    repo.commit("Dev <dev@bücher.de>", "2026-03-02T10:00:00Z", {"b": lines(1)})
    api.post("/v1/repositories", json={"url": str(repo.path)})
    drain()
    assert [d["email"] for d in _developers(api)] == ["dev@bücher.de"]
    # A person adding the other spelling finds the developer the history made, not a second one.
    again = api.post("/v1/developers", json={"name": "Dev", "email": "DEV@xn--bcher-kva.de"})
    assert again.status_code == 409, again.text


def test_an_alias_that_is_another_spelling_of_a_known_address_is_a_conflict(api: TestClient) -> None:
    dev = api.post("/v1/developers", json={"name": "Dev", "email": "dev@bücher.de"}).json()
    other = api.post("/v1/developers", json={"name": "O", "email": "o@example.com", "aliases": ["o@xn--mller-kva.de"]})
    assert other.status_code == 201 and other.json()["aliases"] == ["o@müller.de"]

    same = api.post(f"/v1/developers/{dev['id']}/aliases", json={"email": "Dev@XN--BCHER-KVA.DE"})
    assert same.status_code == 409, same.text
    assert same.json()["error"]["message"] == f"dev@bücher.de is already an email of developer {dev['id']}"
    theirs = api.post(f"/v1/developers/{dev['id']}/aliases", json={"email": "O@Müller.DE"})
    assert theirs.status_code == 409 and other.json()["id"] in theirs.json()["error"]["message"]
    assert api.get(f"/v1/developers/{dev['id']}").json()["aliases"] == []

    # Removing an alias by any spelling of it works too.
    removed = api.delete(f"/v1/developers/{other.json()['id']}/aliases/o@xn--mller-kva.de")
    assert removed.status_code == 200, removed.text
    assert removed.json()["aliases"] == []
