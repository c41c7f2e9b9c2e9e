"""`telemetry.record_attempt` keeps one counter child per (error kind, status code): each still counts under its
own labels, and the histograms get every attempt."""

from __future__ import annotations

from datetime import timedelta

from gitproductivity.core import telemetry
from gitproductivity.core.clock import utcnow


def _sample(name: str, **labels: str) -> float:
    found = telemetry.REGISTRY.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_attempts_count_per_outcome_and_status_class_through_the_cached_children() -> None:
    attempts = "gitproductivity_webhook_attempts_total"
    cases = [
        (None, 200, "succeeded", "2xx"),
        (None, 204, "succeeded", "2xx"),  # another code, the same labels: one series
        ("http_status", 503, "http_status", "5xx"),
        ("http_status", 404, "http_status", "4xx"),
        ("timeout", None, "timeout", "none"),
        ("redirect", 302, "redirect", "3xx"),
    ]
    series = {(outcome, status_class) for *_, outcome, status_class in cases}
    before = {key: _sample(attempts, outcome=key[0], status_class=key[1]) for key in series}
    durations = _sample("gitproductivity_webhook_attempt_duration_seconds_count")
    receipts = _sample("gitproductivity_webhook_commit_to_receipt_seconds_count")
    receipt_sum = _sample("gitproductivity_webhook_commit_to_receipt_seconds_sum")
    started = utcnow()
    for _ in range(3):  # the second and third rounds go through the cached children
        for kind, code, *_ in cases:
            telemetry.record_attempt(
                error_kind=kind,
                status_code=code,
                duration_ms=250.0,
                event_at=started - timedelta(seconds=2),
                started_at=started,
            )
    expected = {key: 3.0 * sum(1 for *_, o, c in cases if (o, c) == key) for key in series}
    assert {key: _sample(attempts, outcome=key[0], status_class=key[1]) - before[key] for key in series} == expected
    assert telemetry._attempt_counter("timeout", None) is telemetry.WEBHOOK_ATTEMPTS.labels("timeout", "none")
    assert _sample("gitproductivity_webhook_attempt_duration_seconds_count") - durations == 3 * len(cases)
    # Commit to receipt: the successes only, from the event to the attempt's end (2 s before it started + 0.25 s).
    assert _sample("gitproductivity_webhook_commit_to_receipt_seconds_count") - receipts == 6
    assert abs(_sample("gitproductivity_webhook_commit_to_receipt_seconds_sum") - receipt_sum - 6 * 2.25) < 1e-6
