"""`core.emails.normalize_email`'s fast path for plain ASCII addresses gives exactly what `email_validator` gives:
the same canonical form for every address it takes, and every other address still goes through `email_validator`
(the same refusals, word for word). Checked result for result over a corpus of valid and invalid addresses (the
tricky ones on purpose), over generated ones near every limit, and over random strings."""

from __future__ import annotations

import random
import string

import email_validator
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from gitproductivity.core import emails
from gitproductivity.core.emails import fold_email, normalize_email
from gitproductivity.core.errors import ValidationFailed


def reference(value: str, field: str = "email") -> tuple[str, object]:
    """`normalize_email` as it was before the fast path: `email_validator` for every address."""
    try:
        info = validate_email(value.strip(), check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        return "refused", (
            f"{field}: {value!r} is not a valid email address ({exc})",
            [{"field": field, "message": str(exc)}],
        )
    return "accepted", fold_email(info.normalized)


def current(value: str, field: str = "email") -> tuple[str, object]:
    try:
        return "accepted", normalize_email(value, field=field)
    except ValidationFailed as exc:
        return "refused", (exc.message, exc.details)


LABEL_63, LABEL_64 = "a" * 63, "b" * 64
CORPUS = [
    # plain, as people type them
    "jane@example.com", "Jane.Doe@Example.COM", "  jd@old.example.com ", "a@b.co", "x@y", "USER+tag@sub.example.org",
    "first.last@a-b.example", "o'brien@example.ie", "a!#$%&'*+-/=?^_`{|}~z@example.com", "1234@1.2.3.4", "a@123",
    "info@Example.com", "Postmaster@example.com", "dev@x1.y2.z3", "a@a-1.b", "_@_x.com", "a@x_y.com",
    # dots in the local part
    ".a@example.com", "a.@example.com", "a..b@example.com", ".@example.com", "a.b.c@example.com",
    # the domain
    "a@-example.com", "a@example-.com", "a@ex--ample.com", "a@xn--bcher-kva.de", "a@XN--BCHER-KVA.de", "a@xn--zz",
    "a@ab--cd.com", "a@example..com", "a@.example.com", "a@example.com.", "a@example.com..", "a@", "@example.com",
    "a@example.c", "a@example.123", "a@example.local", "a@my.localhost", "a@localhost", "a@x.test", "a@test",
    "a@x.invalid", "a@onion", "a@b.onion", "a@1.in-addr.arpa", "a@arpa", "a@notarpa", "a@example.testing",
    "a@x.tEsT", "a@LOCALHOST", "a@local", "a@x.localx",
    # labels and lengths at the limits
    f"a@{LABEL_63}.com", f"a@{LABEL_64}.com", f"a@{LABEL_63}", f"{'l' * 64}@example.com", f"{'l' * 65}@example.com",
    f"{'l' * 200}@example.com", "a@" + ".".join(["c" * 63] * 4), "a@" + ".".join(["c" * 63] * 3) + "." + "d" * 61,
    "a@" + ".".join(["c" * 63] * 3) + "." + "d" * 62,
    *[("l" * 64) + "@" + ".".join(["c" * 63] * 2) + "." + "d" * n for n in (60, 61, 62)],
    # quoting, display names, comments, IP literals
    '"john doe"@example.com', '"a"@example.com', '"a\\"b"@example.com', 'John <john@example.com>', '<john@example.com>',
    "john@[127.0.0.1]", "john@[IPv6:::1]", "john(comment)@example.com", "a\\b@example.com",
    # Unicode
    "zoë@example.com", "zoe\u0308@example.com", "dev@bücher.de", "dev@BÜCHER.DE", "dev@bücher\u3002de",
    "dev@\uff42ücher.de", "\uff41@example.com", "a@\uff45xample.com",
    "a@example.com\u200b", "a\u00a0b@example.com", "a@exam\u0301ple.com",
    "\u212a@example.com", "a@\u212aexample.com",  # the Kelvin sign lower-cases to an ASCII k
    # whitespace, control characters, several at-signs, nothing at all
    "a b@example.com", "a@exa mple.com", "a\t@example.com", "a\n@example.com", "a@example.com\n", "\ta@example.com\t",
    "a@b@example.com", "a@@example.com", "@", "", " ", "plain", "a@b.c@d", "a,b@example.com", "a;b@example.com",
    "a:b@example.com", "a[b]@example.com", "a@ex,ample.com", "a@exa!mple.com", "a@exam_ple.com", "a@-", "a@1-",
]  # fmt: skip


@pytest.mark.parametrize("value", CORPUS)
@pytest.mark.parametrize("field", ["email", "aliases"])
def test_the_corpus_gets_what_email_validator_gives(value: str, field: str) -> None:
    assert current(value, field) == reference(value, field)


def test_plain_addresses_take_the_fast_path_and_the_others_do_not() -> None:
    taken = [v for v in CORPUS if emails._plain(v.strip()) is not None]
    assert {"jane@example.com", "Jane.Doe@Example.COM", "  jd@old.example.com ", "a@b.co", f"a@{LABEL_63}.com"} <= set(
        taken
    )
    assert emails._plain("Jane.Doe@Example.COM") == "jane.doe@example.com"
    # Every fast answer is an address email_validator accepts, with the same canonical form.
    assert all(reference(v) == ("accepted", emails._plain(v.strip())) for v in taken)
    for other in ['"a"@example.com', "zoë@example.com", "a@xn--bcher-kva.de", "a@ab--cd.com", "a@x.test", "a@b@c.d"]:
        assert emails._plain(other) is None, other


def test_the_reserved_names_are_email_validators() -> None:
    assert set(emails._SPECIAL_USE) == set(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def _near_limits(rng: random.Random) -> str:
    """A plain-looking address with a local part, labels and a total length around the limits."""
    local = ".".join(rng.choice(string.ascii_letters + "+_-") * rng.randint(1, 70) for _ in range(rng.randint(1, 3)))
    labels = [
        "".join(
            rng.choice(string.ascii_letters + string.digits + "-") for _ in range(rng.choice((1, 2, 10, 62, 63, 64)))
        )
        for _ in range(rng.randint(1, 5))
    ]
    return f"{local}@{'.'.join(labels)}"


_ALPHABET = string.ascii_letters[:6] + "XN" + string.digits[:3] + ".-_+@\"' <>[]\\()é\u3002\uff45\u212a\t"


def test_generated_addresses_get_what_email_validator_gives() -> None:
    rng = random.Random(16)
    values = [_near_limits(rng) for _ in range(3000)]
    values += ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 24))) for _ in range(6000)]
    values += [f"{rng.choice(['a', 'A.b', 'x+y'])}@{rng.choice(['xn--', 'ab--', '', '-'])}{v}" for v in values[:2000]]
    mismatches = [v for v in values if current(v) != reference(v)]
    assert mismatches == []
    assert sum(emails._plain(v.strip()) is not None for v in values) > 1000  # the fast path was exercised


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(_ALPHABET), max_size=40))
def test_any_string_gets_what_email_validator_gives(value: str) -> None:
    assert current(value) == reference(value)
