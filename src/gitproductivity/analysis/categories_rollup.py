"""Change categories and co-authors added to a read's per-(identity, day) sums, before they are stored.

A tally row (`reader.Tally.days`) holds the commit figures at indexes 0-6; this adds `NEW_WORK` ... `CO_AUTHORED`
after them. Rework or help to others: a young deleted line is the author's own when its origin is the same
identity, or an identity of the same developer (an alias, as stored when the read began); anyone else's
otherwise (an origin nobody can be attributed to included). A co-author is credited on the commit's author day,
in a row of their own (which makes the day an active day), and becomes a developer like any author: always, with
categories on or off (`credit_co_authors`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gitproductivity.analysis import categories, coauthors, reader
from gitproductivity.analysis.identities import canonical_email
from gitproductivity.developers.models import DeveloperEmail

NEW_WORK, REFACTOR, REWORK, HELP_OTHERS, CO_AUTHORED = range(7, 12)
EXTRA = (NEW_WORK, REFACTOR, REWORK, HELP_OTHERS, CO_AUTHORED)
WIDTH = 12
#: The rollup columns of the indexes above, in order.
COLUMNS = ("new_work", "refactor", "rework", "help_others", "co_authored_commits")


def developer_of(session: Session, *, organization_id: str) -> dict[str, str]:
    """identity -> developer id, for every address the organisation's developers have."""
    out: dict[str, str] = {}
    stmt = select(DeveloperEmail.email, DeveloperEmail.developer_id).where(
        DeveloperEmail.organization_id == organization_id
    )
    for email, dev_id in session.execute(stmt):
        out.setdefault(canonical_email(email), dev_id)
    return out


def widen(tally: reader.Tally) -> None:
    """Every row of `tally` given the extra figures (zero)."""
    for row in tally.days.values():
        if len(row) < WIDTH:
            row.extend([0] * (WIDTH - len(row)))


def fold(tally: reader.Tally, result: categories.Result, developers: dict[str, str]) -> None:
    """Add `result` to `tally`; `developers` maps known identities to their developer."""
    widen(tally)
    for commit in result.commits:
        if commit.merge:
            continue
        day = commit.when // reader.SECONDS_PER_DAY
        row = tally.days.get((commit.identity, day))
        if row is not None:  # None: the reader did not count the commit (it says why)
            row[NEW_WORK] += commit.new_work
            row[REFACTOR] += commit.refactor
            mine = developers.get(commit.identity)
            for who, lines in commit.young.items():
                own = who == commit.identity or (mine is not None and developers.get(who) == mine)
                row[REWORK if own else HELP_OTHERS] += lines


def credit_co_authors(repo: Path, tally: reader.Tally, mailmap: str = "") -> None:
    """Credit each co-author the reader found with their commits: `CO_AUTHORED` +1 on the commit's author day,
    after the mailmap; the author is never their own co-author, and one person named twice is credited once."""
    widen(tally)
    mapped = coauthors.resolve(repo, (c for _who, _when, found in tally.co_authored for c in found), mailmap)
    for author, when, contacts in tally.co_authored:
        people: dict[str, str] = {}
        for contact in contacts:
            resolved = mapped.get(contact)
            if resolved is not None and resolved[0] != author:
                people.setdefault(resolved[0], resolved[1])
        day = when // reader.SECONDS_PER_DAY
        for who, name in people.items():
            key = (who, day)
            credit = tally.days.get(key)
            if credit is None:
                credit = tally.days[key] = [0, 0, 0, 0, 0, when, when] + [0] * (WIDTH - 7)
            credit[CO_AUTHORED] += 1
            if who not in tally.names:
                tally.names[who] = (when, name)


def extra_values(values: list[int]) -> list[int]:
    """The extra figures of a row (zeros for a row read without them)."""
    return [values[i] if len(values) > i else 0 for i in EXTRA]
