"""Email addresses: validated strictly when a person types one, compared case-insensitively everywhere."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from gitproductivity.core.errors import ValidationFailed


def normalize_email(value: str, *, field: str = "email") -> str:
    """Validate an address typed by a person and return it lower-cased (the form stored and compared)."""
    try:
        info = validate_email(value.strip(), check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            f"{field}: {value!r} is not a valid email address ({exc})",
            details=[{"field": field, "message": str(exc)}],
        ) from None
    return info.normalized.lower()


def fold_email(value: str) -> str:
    """Lower-case an address found in git history without judging it (git accepts nearly anything)."""
    return value.strip().lower()
