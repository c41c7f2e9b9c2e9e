"""Hostile requests: `verify` never lets the sender switch replay protection off, and raises nothing but
`WebhookVerificationError`, whatever the headers and body hold."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitproductivity import receiver
from gitproductivity.receiver import Event, WebhookVerificationError, verify
from tests.receiver.test_verify import BODY, EVENT_ID, OTHER, SECRET, contract_headers, legacy_only, rejected

NAMES = ["webhook-id", "webhook-timestamp", "webhook-signature", "X-GitProductivity-Signature", "Content-Type"]

#: Any code point, lone surrogates included (what a `str` built from raw bytes with surrogateescape may hold).
ANY_CHAR = st.characters(codec=None, exclude_categories=())
text = st.text(ANY_CHAR, max_size=60)
scalar = st.one_of(text, st.binary(max_size=60), st.integers(), st.none(), st.floats())
name = st.one_of(
    st.sampled_from(NAMES).map(lambda n: st.sampled_from([n, n.upper(), n.title()])).flatmap(lambda s: s),
    text,
    st.binary(max_size=20),
)
pairs = st.lists(st.tuples(name, scalar), max_size=8)
body = st.one_of(
    st.binary(max_size=300), text, st.just(BODY), st.just(BODY.decode() + "\ud800"), scalar, st.dictionaries(text, text)
)


class Weird(Mapping[Any, Any]):
    """A headers object whose iteration breaks half way."""

    def __init__(self, items: list[tuple[Any, Any]]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: Any) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[Any]:
        yield from self._items
        raise RuntimeError("connection reset")

    def __len__(self) -> int:
        return len(self._items)


def containers(items: list[tuple[Any, Any]]) -> st.SearchStrategy[Any]:
    return st.sampled_from([dict(items), items, [(*p, "extra") for p in items], Weird(items), 42, None, "headers"])


def _signed_and_mutated(draw: st.DrawFn) -> list[tuple[Any, Any]]:
    """A genuine delivery's headers, then some removed, duplicated or replaced by hostile values."""
    headers: list[tuple[Any, Any]] = list(contract_headers(BODY, [SECRET]).items())
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["drop", "dup", "replace", "add"]))
        if action == "drop" and headers:
            headers.pop(draw(st.integers(0, len(headers) - 1)))
        elif action == "dup" and headers:
            headers.append(headers[draw(st.integers(0, len(headers) - 1))])
        elif action == "replace" and headers:
            at = draw(st.integers(0, len(headers) - 1))
            headers[at] = (headers[at][0], draw(scalar))
        else:
            headers.append((draw(name), draw(scalar)))
    return headers


@st.composite
def requests(draw: st.DrawFn) -> tuple[Any, Any, Any, dict[str, Any]]:
    """Arbitrary requests, and genuine deliveries with a few things changed (so that some do verify)."""
    items = draw(st.one_of(pairs, st.composite(_signed_and_mutated)()))
    headers = draw(st.one_of(st.just(items), containers(items)))
    secret = draw(
        st.one_of(st.just(SECRET), st.sampled_from([[SECRET, OTHER], OTHER, "", "whsec_%%", None, [None], 7]))
    )
    tolerance = st.one_of(st.integers(-(10**20), 10**20), st.floats(), st.none())
    options = {"allow_legacy_signature": draw(st.booleans()), "tolerance": draw(st.one_of(st.just(300), tolerance))}
    return draw(st.one_of(st.just(BODY), body)), headers, secret, options


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(requests())
def test_only_verification_errors_escape(request: tuple[Any, Any, Any, dict[str, Any]]) -> None:
    raw, headers, secret, options = request
    try:
        event = verify(raw, headers, secret, **options)
    except WebhookVerificationError as exc:
        assert exc.code in {
            "missing_header",
            "invalid_header",
            "invalid_secret",
            "stale_timestamp",
            "invalid_signature",
            "invalid_body",
        }
        assert SECRET not in str(exc) and OTHER not in str(exc)
        return
    assert isinstance(event, Event) and event.id == EVENT_ID  # only the genuine delivery verifies


def test_stripping_the_standard_headers_does_not_fall_back_to_the_body_signature() -> None:
    headers = contract_headers(BODY, [SECRET], ts=int(time.time()) - 3600)  # captured an hour ago
    rejected(BODY, headers, SECRET, "stale_timestamp")
    stripped = legacy_only(headers)
    message = rejected(BODY, stripped, SECRET, "missing_header")
    assert "allow_legacy_signature=True" in message
    # The caller can opt in, knowingly: the body signature alone then verifies, replayed or not.
    assert verify(BODY, stripped, SECRET, allow_legacy_signature=True).id == EVENT_ID
    # But a request that carries any webhook-* header is always held to the Standard Webhooks check.
    for kept in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        partial = {**stripped, kept: headers[kept]}
        rejected(BODY, partial, SECRET, "missing_header", allow_legacy_signature=True)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("webhook-id", "\xff\xfe"),
        ("webhook-id", "evt_\ud800"),
        ("webhook-signature", "v1,\u00e9"),
        ("webhook-timestamp", "\u0661\u0662"),  # Arabic-Indic digits: isdigit() but not a unix time
        ("webhook-id", "x" * 100_000),
        ("X-GitProductivity-Signature", "sha256=\x00"),
    ],
)
def test_non_ascii_and_huge_header_values_are_invalid_headers(name: str, value: str) -> None:
    headers = {**contract_headers(BODY, [SECRET]), name: value}
    rejected(BODY, headers, SECRET, "invalid_header", allow_legacy_signature=True)
    rejected(
        BODY, [(k.encode(), v.encode("utf-8", "surrogatepass")) for k, v in headers.items()], SECRET, "invalid_header"
    )


def test_duplicate_signature_headers_and_odd_bodies_are_refused() -> None:
    headers = contract_headers(BODY, [SECRET])
    for dup in ("webhook-signature", "webhook-id", "webhook-timestamp"):
        twice = [*headers.items(), (dup.upper(), headers[dup])]
        assert "twice" in rejected(BODY, twice, SECRET, "invalid_header")
    rejected(BODY.decode() + "\ud800", headers, SECRET, "invalid_body")  # a lone surrogate in a str body
    deep = b"[" * 100_000 + b"]" * 100_000
    rejected(deep, contract_headers(deep, [SECRET]), SECRET, "invalid_body")  # signed, but not an envelope
    late = b'{"id":"evt_1","type":"x","created_at":"9999-12-31T23:59:59-14:00","data":{}}'
    rejected(late, contract_headers(late, [SECRET]), SECRET, "invalid_body")
    huge = BODY + b" " * 20_000_000
    rejected(huge, headers, SECRET, "invalid_signature")
    assert receiver.verify(BODY, headers, SECRET).id == EVENT_ID
