"""Co-authors of a commit: its `Co-authored-by:` trailers (docs/metrics.md, "Co-authors"). Always counted.

The commit reader asks git for the trailers in its one `git log` pass (`FIELD`, git's own trailer parsing: any
case of the key, folded lines), so they cost a placeholder, not a second walk. `parse` turns one commit's field
into contacts in linear time; after the read, `resolve` maps every distinct contact through the mailmap (ONE
`git check-mailmap --stdin`) to an identity, the way authors are mapped by `git log --use-mailmap`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from gitproductivity.analysis import git
from gitproductivity.analysis.commits import MAX_NAME, Skipped
from gitproductivity.analysis.commits import author as parse_author
from gitproductivity.analysis.identities import canonical_email

log = logging.getLogger(__name__)
#: git log placeholder: the trailers' values, separated by SOH (a NUL never occurs in them).
FIELD = "%(trailers:key=Co-authored-by,valueonly,separator=%x01)"
#: Co-authors credited per commit (a bound on what a repository supplies).
MAX_CO_AUTHORS = 20

Contact = tuple[str, str]  # (name, e-mail) as the trailer wrote them


def contact_of(text: str) -> Contact | None:
    """`Name <e@mail>` -> (name, e-mail), or None: the e-mail is what the last `<...>` at the end holds, with an
    @ between two characters and no space or angle bracket. Parsed by hand, in one pass (a regular expression
    with a lazy name backtracked quadratically on a crafted trailer)."""
    text = text.strip()
    start = text.rfind("<")
    if not text.endswith(">") or start < 0:
        return None
    email = text[start + 1 : -1]
    if "@" not in email[1:-1] or any(c.isspace() or c in "<>" for c in email):
        return None
    return text[:start].strip(), email


def parse(raw: bytes, author_email: str) -> tuple[Contact, ...]:
    """The contacts of one commit's trailers field, in order: each e-mail once (any case), the author's own
    never, at most `MAX_CO_AUTHORS`; a value without an e-mail address is ignored. Only the first values are
    looked at, so a crafted message of a million trailers costs no more than a few."""
    if not raw:
        return ()
    seen = {author_email.lower()}
    out: list[Contact] = []
    for value in raw.decode("utf-8", "replace").split("\x01", MAX_CO_AUTHORS * 2)[: MAX_CO_AUTHORS * 2]:
        found = contact_of(" ".join(value.split()))
        if found is None:
            continue
        name, email = found
        # `git check-mailmap` reads `Name <e-mail>`: angle brackets in the name would make it another contact.
        # Cut to what a developer's name can hold, so no crafted name makes that process's input large.
        name = " ".join(name.replace("<", " ").replace(">", " ").split())[:MAX_NAME] or email.split("@")[0]
        if email.lower() in seen:
            continue
        seen.add(email.lower())
        out.append((name, email))
        if len(out) == MAX_CO_AUTHORS:
            break
    return tuple(out)


def resolve(repo: Path, contacts: Iterable[Contact], mailmap: str = "") -> dict[Contact, tuple[str, str]]:
    """contact -> (identity, name), through the mailmap (the head's `.mailmap` as `mailmap.blob`, like the
    reader's `--use-mailmap`) and the same normalising as authors; a contact that leaves nothing to attribute
    is left out."""
    todo = sorted(set(contacts))
    if not todo:
        return {}
    config = ["-c", f"mailmap.blob={mailmap}"] if mailmap else []
    stdin = "".join(f"{name} <{email}>\n" for name, email in todo).encode()
    try:
        out = git.run(repo, [*config, "check-mailmap", "--stdin"], input=stdin).decode("utf-8", "replace")
        lines = out.split("\n")
    except git.GitError as exc:
        if exc.returncode is None:
            raise  # a timeout fails the analysis, as the reader's does
        log.warning("%s: git check-mailmap failed; co-authors are counted without the mailmap: %s", repo, exc)
        lines = []
    mapped: dict[Contact, tuple[str, str]] = {}
    for i, contact in enumerate(todo):
        name, email = (contact_of(lines[i]) if i < len(lines) else None) or contact
        found = parse_author(name.encode(), email.encode(), b"0", b"0")
        if not isinstance(found, Skipped):
            mapped[contact] = (canonical_email(found.email), found.name or found.email)
    return mapped
