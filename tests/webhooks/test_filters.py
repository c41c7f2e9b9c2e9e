"""Endpoint filters (webhooks.filters): the documented semantics, validation with paths, and a property test
against a reference evaluator written independently (flattened paths, explicit JSON equality)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitproductivity.webhooks import filters

ENVELOPE: dict[str, Any] = {
    "id": "evt_1",
    "type": "metrics.updated",
    "created_at": "2026-03-19T10:30:00Z",
    "data": {
        "developer_id": "dev_1",
        "repository_id": "repo_1",
        "totals": {"commits": 148, "lines_added": 20417},
        "tags": ["a", "b"],
        "analysis_id": None,
    },
}


def matches(spec: Any, doc: Any = ENVELOPE) -> bool:
    return filters.compile_(spec)(doc)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"data": {"repository_id": "repo_1"}}, True),
        ({"data.repository_id": "repo_2"}, False),
        ({"data": {"repository_id": {"$in": ["repo_2", "repo_1"]}}}, True),
        ({"data": {"repository_id": {"$nin": ["repo_1"]}}}, False),
        ({"data.totals.commits": {"$gt": 100, "$lte": 148}}, True),
        ({"data.totals.commits": {"$gt": 148}}, False),
        ({"data.totals.commits": {"$gte": "100"}}, False),  # strings and numbers never compare
        ({"created_at": {"$gte": "2026-03-01", "$lt": "2026-04-01"}}, True),
        ({"data.totals.commits": 148.0}, True),  # JSON equality: 148 == 148.0
        ({"data.tags": "b"}, True),  # an array field matches when an element does
        ({"data.tags": {"$neq": "b"}}, False),
        ({"data.tags": ["a", "b"]}, True),  # or when it is equal as a whole
        ({"data.tags.1": "b"}, True),  # an index is a path segment
        ({"data.analysis_id": {"$exist": True}}, True),  # present, though null
        ({"data.analysis_id": None}, True),
        ({"data.missing": {"$exist": False}}, True),
        ({"data.missing": {"$neq": "x"}}, True),  # the negations match an absent field
        ({"data.missing": {"$nin": ["x"]}}, True),
        ({"data.missing": None}, False),  # absent is not null
        ({"$or": [{"type": "developer.added"}, {"data.developer_id": "dev_1"}]}, True),
        ({"$and": [{"type": "metrics.updated"}, {"data.developer_id": "dev_2"}]}, False),
        ({"type": "metrics.updated", "data.developer_id": "dev_2"}, False),  # keys of one object: all hold
        ({"data": {"totals": {"commits": True}}}, False),  # true is not 1
        ({}, True),
    ],
)
def test_semantics(spec: dict[str, Any], expected: bool) -> None:
    assert matches(spec) is expected


def test_errors_come_all_at_once_with_their_paths() -> None:
    errors = filters.check(
        {
            "data": {
                "repository_id": {"$in": "repo_1"},
                "totals": {"commits": {"$gt": [1], "$regex": "x"}},
                "x": {"$eq": 1, "y": 2},
            },
            "$or": [],
            "$not": {},
            "created_at": {"$exist": "yes"},
        }
    )
    assert {(e.path, e.message.split(" ")[0]) for e in errors} == {
        ("data.repository_id.$in", "must"),
        ("data.totals.commits.$gt", "must"),
        ("data.totals.commits.$regex", "unknown"),
        ("data.x", "mixes"),
        ("$or", "must"),
        ("$not", "unknown"),
        ("created_at.$exist", "must"),
    }
    assert [e.path for e in filters.check({"$and": [{"a": 1}, {"b": {"$lt": None}}]})] == ["$and[1].b.$lt"]
    assert filters.check([1]) == [filters.FilterError("filter", "must be an object")]


def test_hostile_filters_are_refused_quickly_and_without_recursion_errors() -> None:
    deep: dict[str, Any] = {"a": 1}
    for _ in range(5000):
        deep = {"$and": [deep]}
    # json.dumps of 5,000 levels is fine; the checker stops at MAX_DEPTH without walking the rest.
    errors = filters.check(deep)
    assert [e.message for e in errors] == [f"nested deeper than {filters.MAX_DEPTH} levels"]
    wide = {f"k{i}": i for i in range(filters.MAX_NODES + 10)}
    assert any(e.message.startswith("too large") for e in filters.check(wide))
    huge = {"a": {"$in": list(range(20_000))}}
    assert filters.check(huge)[0].message.startswith("larger than")
    assert filters.check({"a": float("nan")})[0].message.startswith("must be JSON")
    with pytest.raises(ValueError, match="nested deeper"):
        filters.compile_(deep)


def test_explain_names_the_failing_conditions() -> None:
    spec = {"type": "metrics.updated", "data": {"repository_id": {"$in": ["repo_9"]}, "totals.commits": {"$gt": 1}}}
    assert filters.explain(spec, ENVELOPE) == ["data.repository_id.$in"]
    assert filters.explain({"$or": [{"type": "x"}]}, ENVELOPE) == ["$or"]
    assert filters.explain(spec, {**ENVELOPE, "data": {**ENVELOPE["data"], "repository_id": "repo_9"}}) == []


# --- the property: compile_ agrees with a reference evaluator ---------------------------------------------------

# A small world, so that filters and documents often meet (about half the examples match).
KEYS = ["a", "b"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(0, 2), st.sampled_from([1.0, 1.5]), st.sampled_from(["x", "1"])
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)),
    max_leaves=8,
)
documents = st.dictionaries(st.sampled_from(KEYS), values, min_size=1, max_size=2)


def _comparisons() -> st.SearchStrategy[dict[str, Any]]:
    ordered = st.one_of(st.integers(0, 2), st.sampled_from([0.5, 1.0, "x", "1", ""]))
    return st.one_of(
        st.builds(lambda v: {"$eq": v}, values),
        st.builds(lambda v: {"$neq": v}, values),
        st.builds(lambda v: {"$in": v}, st.lists(values, max_size=3)),
        st.builds(lambda v: {"$nin": v}, st.lists(values, max_size=3)),
        st.builds(lambda op, v: {op: v}, st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), ordered),
        st.builds(lambda v: {"$exist": v}, st.booleans()),
    )


paths = st.lists(st.sampled_from([*KEYS, "0"]), min_size=1, max_size=2).map(".".join)
leaf_filters = st.dictionaries(paths, st.one_of(scalars, _comparisons()), min_size=1, max_size=2)
filter_specs = st.recursive(
    leaf_filters,
    lambda inner: st.one_of(
        st.builds(lambda subs: {"$and": subs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda subs: {"$or": subs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(
            lambda k, sub: {k: sub},
            st.sampled_from(KEYS),
            inner.filter(lambda f: not any(k.startswith("$") for k in f)),
        ),
    ),
    max_leaves=6,
)

ABSENT = object()


def _jeq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_jeq(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_jeq(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    """Every path of `doc` to its value, the way Convoy flattens payloads (arrays by index)."""
    out: dict[str, Any] = {}
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for k, v in children:
        path = f"{prefix}.{k}" if prefix else str(k)
        out[path] = v
        out.update(_flatten(v, path))
    return out


def _ref_condition(found: Any, op: str, operand: Any) -> bool:
    def eq_any(wanted: list[Any]) -> bool:
        if found is ABSENT:
            return False
        candidates = [found, *(found if isinstance(found, list) else [])]
        return any(_jeq(c, w) for c in candidates for w in wanted)

    if op == "$eq":
        return eq_any([operand])
    if op == "$neq":
        return not eq_any([operand])
    if op == "$in":
        return eq_any(operand)
    if op == "$nin":
        return not eq_any(operand)
    if op == "$exist":
        return (found is not ABSENT) is operand
    if not ((_is_num(operand) and _is_num(found)) or (isinstance(operand, str) and isinstance(found, str))):
        return False
    results = {"$gt": found > operand, "$gte": found >= operand, "$lt": found < operand, "$lte": found <= operand}
    return bool(results[op])


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def reference(spec: dict[str, Any], flat: dict[str, Any], prefix: str = "") -> bool:
    for name, item in spec.items():
        if name == "$and":
            ok = all(reference(sub, flat, prefix) for sub in item)
        elif name == "$or":
            ok = any(reference(sub, flat, prefix) for sub in item)
        else:
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(item, dict) and item and all(k.startswith("$") for k in item):
                ok = all(_ref_condition(flat.get(path, ABSENT), op, v) for op, v in item.items())
            elif isinstance(item, dict) and item:
                ok = reference(item, flat, path)
            else:
                ok = _ref_condition(flat.get(path, ABSENT), "$eq", item)
        if not ok:
            return False
    return True


@settings(max_examples=1000, deadline=None)
@given(spec=filter_specs, doc=documents)
def test_compiled_filters_agree_with_the_reference_evaluator(spec: dict[str, Any], doc: dict[str, Any]) -> None:
    assert filters.check(spec) == [], spec
    assert filters.compile_(spec)(doc) == reference(spec, _flatten(doc)), (json.dumps(spec), json.dumps(doc))


def _confusable(value: Any) -> list[Any]:
    """The value itself and the values an evaluator could wrongly take for it (true/1, 1/1.0/"1", elements)."""
    out = [value]
    if isinstance(value, bool):
        out.append(int(value))
    elif isinstance(value, int | float):
        out += [float(value), str(value), bool(value)]
    elif isinstance(value, list):
        out += value
    return out


@settings(max_examples=500, deadline=None)
@given(doc=documents, data=st.data())
def test_filters_on_values_the_document_holds_agree_with_the_reference(doc: dict[str, Any], data: Any) -> None:
    flat = _flatten(doc)
    path = data.draw(st.sampled_from(sorted(flat)))
    operand = data.draw(st.sampled_from(_confusable(flat[path])))
    op = data.draw(st.sampled_from(["$eq", "$neq", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exist"]))
    if op in ("$in", "$nin"):
        operand = [operand]
    elif op == "$exist":
        operand = data.draw(st.booleans())
    elif op.startswith(("$g", "$l")) and not filters._orderable(operand):
        operand = 1
    spec = {path: {op: operand}}
    assert filters.compile_(spec)(doc) == reference(spec, flat), (json.dumps(spec), json.dumps(doc))
