"""The house plan holds: every module is placed in the import contract, and modules stay small.

The contract itself (`.importlinter`) is checked by `make lint` (lint-imports); these tests make sure it cannot
silently stop covering the code: a module nobody placed in a layer is a module nobody checks.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import gitproductivity

SRC = Path(gitproductivity.__file__).parent
ROOT = SRC.parents[1]
MAX_LINES = 420  # "~400": a module past this has more than one purpose
#: Deliberate exceptions, each with its reason.
LONG_ON_PURPOSE = {
    "gitproductivity.receiver": "one file that receivers copy into their project (docs/webhooks.md promises it)",
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        if "migrations" in rel.parts or (rel.name == "__init__" and "import" not in path.read_text()):
            continue  # an empty package marker imports nothing
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        found[".".join(parts)] = path
    return found


def placed() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = config["importlinter:contract:layers"]["layers"]
    return {name.strip() for name in re.split(r"[:|\n]", layers) if name.strip()}


def test_every_module_is_placed_in_a_layer() -> None:
    names = placed()
    missing = [
        module
        for module in modules()
        if module != "gitproductivity" and not any(module == n or module.startswith(n + ".") for n in names)
    ]
    # The receiver stands apart (its own contract: standard library only).
    assert missing == ["gitproductivity.receiver"], f"place these modules in .importlinter's layers: {missing}"


def test_the_contract_names_only_modules_that_exist() -> None:
    packages = {".".join(p.parent.relative_to(SRC.parent).parts) for p in SRC.rglob("__init__.py")}
    assert sorted(placed() - set(modules()) - packages) == []


def test_modules_have_one_purpose_and_stay_small() -> None:
    long = {
        module: n
        for module, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES and module not in LONG_ON_PURPOSE
    }
    assert long == {}, f"split these modules (over {MAX_LINES} lines): {long}"
