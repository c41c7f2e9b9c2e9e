"""Who a commit belongs to, after `.mailmap` (applied by git itself through `--use-mailmap`).

An identity is its email in canonical form (`core.emails.fold_email`: lower case, Unicode IDNA domain, the
form developers and aliases are stored in); GitHub's two `noreply` spellings of one account
(`12345+login@users.noreply.github.com` and `login@users.noreply.github.com`) are one identity. Aliases
(several addresses of one developer) are resolved against the developers table when a run is stored (`analysis.store`).
Bots are recognised by name or email, never counted as developers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from gitproductivity.core.emails import fold_email
from gitproductivity.core.saferegex import SafeRegex

#: Always treated as bots; `GITPRODUCTIVITY_BOT_PATTERNS` adds more (regular expressions, case-insensitive,
#: matched in linear time by `core.saferegex`).
DEFAULT_BOT_PATTERNS = (r"\[bot\]", r"dependabot", r"renovate", r"github-actions")

_NOREPLY = re.compile(r"^(?:\d+\+)?(?P<login>[^@+]+)@users\.noreply\.github\.com$")


@lru_cache(maxsize=1 << 16)  # the few people who write most commits; bounded for a hostile history
def canonical_email(email: str) -> str:
    folded = fold_email(email)
    match = _NOREPLY.match(folded)
    if match:
        return f"{match.group('login')}@users.noreply.github.com"
    return folded


class BotMatcher:
    """Names and emails come from the repositories people connect: patterns run on `core.saferegex` (linear
    time, no backtracking), never on `re`, so no author name can make a pattern take exponential time."""

    def __init__(self, extra_patterns: Sequence[str] = ()) -> None:
        self._patterns = [SafeRegex(p) for p in (*DEFAULT_BOT_PATTERNS, *extra_patterns)]

    def __call__(self, name: str, email: str) -> bool:
        return any(p.search(name) or p.search(email) for p in self._patterns)
