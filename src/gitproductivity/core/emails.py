"""Email addresses: one canonical form for developers, aliases, users and commit identities.

The canonical form is the address lower-cased (the local part in Unicode NFC, as email-validator gives it), with
its domain in Unicode after IDNA 2008 / UTS-46 mapping:
`Dev@XN--BCHER-KVA.DE`, `dev@BÜCHER.de` and `dev@bücher.de` are all `dev@bücher.de`. The local part is
lower-cased as well: mail systems almost never tell `Dev` from `dev`, and git histories spell one person both
ways. Addresses typed by a person are validated strictly first; addresses found in git history are only folded.
"""

from __future__ import annotations

import re
import unicodedata

import idna
from email_validator import EmailNotValidError, validate_email

from gitproductivity.core.errors import ValidationFailed


def _domain(domain: str) -> str:
    if domain.isascii() and "xn--" not in domain.lower():
        folded = domain.lower()  # what UTS-46 does to a plain ASCII name, without its cost
    else:
        try:
            folded = idna.decode(domain, uts46=True)  # also maps full-width letters and ideographic dots
        except (idna.IDNAError, UnicodeError, ValueError):
            folded = domain.lower()  # not a name IDNA accepts (git takes anything): as written, case-folded
    return folded[:-1] if folded.endswith(".") and len(folded) > 1 else folded  # the DNS root: example.com.


def fold_email(value: str) -> str:
    """The canonical form of any address, never refusing one (git accepts nearly anything as an email)."""
    local, at, domain = value.strip().rpartition("@")
    if not at:
        return unicodedata.normalize("NFC", value.strip().lower())
    return f"{unicodedata.normalize('NFC', local.lower())}@{_domain(domain)}"


#: A plain ASCII address: a dot-atom local part (RFC 5322's atext, no quotes), a domain of letter-digit-hyphen
#: labels of 1-63 characters. What `email_validator` accepts of these, it answers lower-cased (the domain by UTS-46,
#: the local part by `fold_email`): `_plain` gives that answer without it (it was ~5 % of `POST /v1/developers`).
#: Anchored at the start and possessive/atomic (no label can hold a dot, so the longest match is the only one that
#: can succeed): linear time however it is applied (tests/core/test_regex_linear.py).
_ATEXT = r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]++"
_LABEL = r"(?>[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)"
_PLAIN = re.compile(rf"\A{_ATEXT}(?:\.{_ATEXT})*+@{_LABEL}(?:\.{_LABEL})*+\Z", re.ASCII)
#: Names `email_validator` refuses, and their subdomains (its SPECIAL_USE_DOMAIN_NAMES; "test" as outside a test
#: environment). tests/core/test_email_fast_path.py checks the list is still the library's.
_SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")
_SPECIAL_USE_SUFFIXES = tuple(f".{name}" for name in _SPECIAL_USE)


def _plain(value: str) -> str | None:
    """The canonical form of `value` when it is a plain ASCII address `email_validator` accepts (the same answer
    as through it), else None: anything else (quotes, Unicode, Punycode, `--` labels, reserved names, lengths at
    the limits) goes through `email_validator`, for its answer and its words. No DNS either way."""
    if len(value) > 254 or not _PLAIN.fullmatch(value):
        return None
    folded = value.lower()
    domain = folded[folded.index("@") + 1 :]
    if "--" in domain:  # Punycode (`xn--`) and the labels it refuses (`ab--`): its words. (The whole is at most 254
        return None  # characters, so the domain is within its 253.)
    if ("." + domain).endswith(_SPECIAL_USE_SUFFIXES):  # one of them, or a subdomain of one
        return None
    return folded


def normalize_email(value: str, *, field: str = "email") -> str:
    """Validate an address typed by a person and return its canonical form (the form stored and compared)."""
    address = value.strip()
    plain = _plain(address)
    if plain is not None:
        return plain
    try:
        info = validate_email(address, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            f"{field}: {value!r} is not a valid email address ({exc})",
            details=[{"field": field, "message": str(exc)}],
        ) from None
    return fold_email(info.normalized)
