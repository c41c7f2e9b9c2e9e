"""Email addresses: one canonical form for developers, aliases, users and commit identities.

The canonical form is the address lower-cased (the local part in Unicode NFC, as email-validator gives it), with
its domain in Unicode after IDNA 2008 / UTS-46 mapping:
`Dev@XN--BCHER-KVA.DE`, `dev@BÜCHER.de` and `dev@bücher.de` are all `dev@bücher.de`. The local part is
lower-cased as well: mail systems almost never tell `Dev` from `dev`, and git histories spell one person both
ways. Addresses typed by a person are validated strictly first; addresses found in git history are only folded.
"""

from __future__ import annotations

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


def normalize_email(value: str, *, field: str = "email") -> str:
    """Validate an address typed by a person and return its canonical form (the form stored and compared)."""
    try:
        info = validate_email(value.strip(), check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            f"{field}: {value!r} is not a valid email address ({exc})",
            details=[{"field": field, "message": str(exc)}],
        ) from None
    return fold_email(info.normalized)
