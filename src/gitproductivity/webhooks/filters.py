"""Endpoint filters: which events an endpoint receives, beyond their type (pure: no database, no I/O).

The syntax is the JSON one Convoy and Outpost share, over the event envelope (`id`, `type`, `created_at`,
`data`):

- `{"data": {"repository_id": "repo_1"}}`: nested objects address nested fields (a dotted key,
  `"data.repository_id"`, is the same path); a plain value means `$eq`;
- an object of operators compares the field: `$eq $neq $in $nin $gt $gte $lt $lte $exist` (all must hold);
- `$and` / `$or` take a list of filters; the keys of one object must all hold (an implicit `$and`).

Semantics, written down because engines differ at the edges:

- equality is JSON equality: `1 == 1.0`, but `true != 1` and `"1" != 1`; objects and arrays compare whole;
- when the event's field is an array, `$eq` and `$in` also match if any element matches (Mongo's rule), and
  `$neq` / `$nin` are their exact negations (so they match an absent field too);
- `$gt $gte $lt $lte` take a number or a string and compare only like with like (numbers with numbers,
  strings by code point, which orders ISO-8601 times); anything else does not match;
- `$exist: true` matches a present field (even `null`), `$exist: false` an absent one;
- an array index is a path segment: `data.items.0.id`.

`check` validates a filter and reports every error at once, each with its JSON path; `compile` turns a valid
filter into a predicate over an envelope (done once per endpoint per transaction by fan-out).
Hostile input is bounded before any recursion: depth, node count and list lengths (`MAX_*`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MAX_DEPTH = 8
MAX_NODES = 2000
MAX_LIST = 5000
MAX_BYTES = 65536
MAX_KEY_LENGTH = 200

COMPARISONS = ("$eq", "$neq", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exist")
LOGICAL = ("$and", "$or")

Predicate = Callable[[Any], bool]
_MISSING = object()


@dataclass(frozen=True)
class FilterError:
    path: str
    message: str


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Checker:
    def __init__(self) -> None:
        self.errors: list[FilterError] = []
        self.nodes = 0

    def error(self, path: str, message: str) -> None:
        if len(self.errors) < 50:
            self.errors.append(FilterError(path or "filter", message))

    def count(self, path: str, n: int = 1) -> bool:
        self.nodes += n
        if self.nodes > MAX_NODES:
            if not any(e.message.startswith("too large") for e in self.errors):
                self.error(path, f"too large: at most {MAX_NODES} keys and values in one filter")
            return False
        return True

    def filter(self, value: Any, path: str, depth: int) -> None:
        if not isinstance(value, dict):
            self.error(path, "must be an object")
            return
        if depth > MAX_DEPTH:
            self.error(path, f"nested deeper than {MAX_DEPTH} levels")
            return
        for key, item in value.items():
            here = _join(path, key)
            if not self.count(here):
                return
            if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
                self.error(here, f"a field name is 1 to {MAX_KEY_LENGTH} characters")
            elif key in LOGICAL:
                self.logical(item, here, depth)
            elif key.startswith("$"):
                self.error(here, f"unknown operator (use a field name, or one of {', '.join(LOGICAL)})")
            elif any(not part for part in key.split(".")):
                self.error(here, "a dotted field name has an empty part")
            else:
                self.field(item, here, depth)

    def logical(self, item: Any, path: str, depth: int) -> None:
        if not isinstance(item, list) or not item:
            self.error(path, "must be a non-empty list of filters")
            return
        if len(item) > MAX_LIST:
            self.error(path, f"at most {MAX_LIST} filters")
            return
        for i, sub in enumerate(item):
            self.filter(sub, f"{path}[{i}]", depth + 1)

    def field(self, item: Any, path: str, depth: int) -> None:
        if isinstance(item, dict) and item and all(isinstance(k, str) and k.startswith("$") for k in item):
            for op, operand in item.items():
                here = _join(path, op)
                if not self.count(here):
                    return
                self.operator(op, operand, here)
        elif isinstance(item, dict) and any(isinstance(k, str) and k.startswith("$") for k in item):
            self.error(path, "mixes operators ($…) with field names; nest the fields or use $and")
        elif isinstance(item, dict) and item:
            self.filter(item, path, depth + 1)
        else:
            self.value(item, path)

    def operator(self, op: str, operand: Any, path: str) -> None:
        if op not in COMPARISONS:
            self.error(path, f"unknown operator (one of {', '.join(COMPARISONS)})")
        elif op in ("$in", "$nin"):
            if not isinstance(operand, list):
                self.error(path, "must be a list of values")
            elif len(operand) > MAX_LIST:
                self.error(path, f"at most {MAX_LIST} values")
            else:
                for i, v in enumerate(operand):
                    self.value(v, f"{path}[{i}]")
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            if not _orderable(operand):
                self.error(path, "must be a number or a string")
        elif op == "$exist":
            if not isinstance(operand, bool):
                self.error(path, "must be true or false")
        else:
            self.value(operand, path)

    def value(self, value: Any, path: str) -> None:
        """A JSON value to compare with: bounded like the rest, and finite."""
        stack = [value]
        while stack:
            v = stack.pop()
            if not self.count(path):
                return
            if isinstance(v, float) and not math.isfinite(v):
                self.error(path, "numbers must be finite")
            elif isinstance(v, list):
                stack.extend(v)
            elif isinstance(v, dict):
                stack.extend(v.values())
            elif not (v is None or isinstance(v, str | int | float | bool)):
                self.error(path, "must be a JSON value")


def _too_deep(spec: Any) -> bool:
    """Whether the raw JSON nests deeper than any valid filter can (checked without recursion, before
    `json.dumps`, which would recurse once per level)."""
    limit = 4 * MAX_DEPTH + 4  # a filter level is at most an object, a list, an operator object and a value list
    stack: list[tuple[Any, int]] = [(spec, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        seen += 1
        if seen > 4 * MAX_NODES + 4 * MAX_LIST:
            return False  # the size checks that follow refuse it
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return False


def check(spec: Any) -> list[FilterError]:
    """Every error in `spec`, each with its path (`data.repository_id.$in[3]`); empty when valid."""
    if _too_deep(spec):
        return [FilterError("filter", f"nested deeper than {MAX_DEPTH} levels")]
    try:
        size = len(json.dumps(spec, allow_nan=False))
    except (ValueError, TypeError, RecursionError):
        return [FilterError("filter", "must be JSON (finite numbers, no cycles)")]
    if size > MAX_BYTES:
        return [FilterError("filter", f"larger than {MAX_BYTES} bytes as JSON")]
    checker = _Checker()
    checker.filter(spec, "", 0)
    return checker.errors


def _orderable(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool))


def key(value: Any) -> Any:
    """A hashable form of a JSON value under JSON equality (`1 == 1.0`, `true != 1`)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("z",)
    if isinstance(value, list):
        return ("l", tuple(key(v) for v in value))
    if isinstance(value, dict):
        return ("d", frozenset((k, key(v)) for k, v in value.items()))
    return ("?", repr(value))


def lookup(document: Any, path: tuple[str, ...]) -> Any:
    """The value at `path`, or `_MISSING`; a digit segment indexes an array."""
    current = document
    for part in path:
        if isinstance(current, dict):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
        if current is _MISSING:
            return _MISSING
    return current


def _any_in(found: Any, wanted: frozenset[Any]) -> bool:
    if found is _MISSING:
        return False
    if key(found) in wanted:
        return True
    return isinstance(found, list) and any(key(v) in wanted for v in found)


def _ordered(op: str, bound: Any) -> Callable[[Any], bool]:
    numeric = not isinstance(bound, str)

    def like(v: Any) -> bool:
        if numeric:
            return isinstance(v, int | float) and not isinstance(v, bool)
        return isinstance(v, str)

    if op == "$gt":
        return lambda v: like(v) and v > bound
    if op == "$gte":
        return lambda v: like(v) and v >= bound
    if op == "$lt":
        return lambda v: like(v) and v < bound
    return lambda v: like(v) and v <= bound


def _comparison(path: tuple[str, ...], op: str, operand: Any) -> Predicate:
    if op in ("$eq", "$neq", "$in", "$nin"):
        wanted = frozenset(key(v) for v in operand) if op in ("$in", "$nin") else frozenset((key(operand),))
        negate = op in ("$neq", "$nin")
        return lambda doc: _any_in(lookup(doc, path), wanted) != negate
    if op == "$exist":
        return lambda doc: (lookup(doc, path) is not _MISSING) == operand
    test = _ordered(op, operand)
    return lambda doc: test(lookup(doc, path))


def _all(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    return lambda doc: all(p(doc) for p in predicates)


def _any(predicates: list[Predicate]) -> Predicate:
    return lambda doc: any(p(doc) for p in predicates)


def _compile(spec: dict[str, Any], prefix: tuple[str, ...]) -> Predicate:
    predicates: list[Predicate] = []
    for name, item in spec.items():
        if name == "$and":
            predicates.append(_all([_compile(sub, prefix) for sub in item]))
        elif name == "$or":
            predicates.append(_any([_compile(sub, prefix) for sub in item]))
        else:
            path = prefix + tuple(name.split("."))
            if isinstance(item, dict) and item and all(k.startswith("$") for k in item):
                predicates.extend(_comparison(path, op, operand) for op, operand in item.items())
            elif isinstance(item, dict) and item:
                predicates.append(_compile(item, path))
            else:
                predicates.append(_comparison(path, "$eq", item))
    if not predicates:
        return lambda doc: True
    return _all(predicates)


def compile_(spec: Any) -> Predicate:
    """A predicate over an envelope; `spec` must be valid (`check`), or ValueError. `None` or `{}` match all."""
    if spec is None:
        return lambda doc: True
    errors = check(spec)
    if errors:
        raise ValueError(f"{errors[0].path}: {errors[0].message}")
    return _compile(spec, ())


def compile_saved(spec: Any) -> Predicate | None:
    """A saved filter's predicate (None: no filter). One that no longer validates (a bound lowered since it was
    saved) matches nothing: a filter narrows what an endpoint receives, so it fails closed.

    Compiled predicates are pure, so they are kept per process by the filter's JSON text: fan-out reads the
    endpoints once per transaction, and a busy installation compiles each filter once, not once per batch."""
    if not spec:
        return None
    try:
        text = json.dumps(spec, sort_keys=True, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        return _nothing
    return _compiled_text(text)


def _nothing(envelope: Any) -> bool:
    return False


@lru_cache(maxsize=1024)
def _compiled_text(text: str) -> Predicate:
    try:
        return compile_(json.loads(text))
    except (ValueError, RecursionError):
        return _nothing


def explain(spec: Any, document: Any) -> list[str]:
    """Why `document` does not match: the paths of the failing conditions (`data.repository_id.$in`, `$or`)."""
    if not isinstance(spec, dict) or check(spec):
        return []
    return _explain(spec, (), document)


def _explain(spec: dict[str, Any], prefix: tuple[str, ...], document: Any) -> list[str]:
    failing = []
    for name, item in spec.items():
        if name in LOGICAL:
            if not _compile({name: item}, prefix)(document):
                failing.append(".".join((*prefix, name)))
            continue
        path = prefix + tuple(name.split("."))
        if isinstance(item, dict) and item and all(k.startswith("$") for k in item):
            failing.extend(".".join((*path, op)) for op, v in item.items() if not _comparison(path, op, v)(document))
        elif isinstance(item, dict) and item:
            failing.extend(_explain(item, path, document))
        elif not _comparison(path, "$eq", item)(document):
            failing.append(".".join(path))
    return failing
