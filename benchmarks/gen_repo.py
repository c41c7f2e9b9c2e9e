"""Generate a realistic git repository with `git fast-import` (used by benchmarks/analysis.py).

Many files in nested directories, 200 authors with a long-tailed activity distribution, diff sizes from one
line to a few hundred, a few binary, vendored and lock files, and side branches merged back with real merge
commits while the main line keeps moving.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma".split()  # noqa: SIM905


def _line(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8))) + "\n"


def generate(
    path: Path,
    *,
    commits: int = 50_000,
    authors: int = 200,
    files: int = 4_000,
    seed: int = 7,
    years: float | None = None,
    every_author: bool = False,
    end: int | None = None,
    quiet: tuple[float, float] | None = None,
) -> Path:
    """Create a bare repository at `path` (replacing nothing: callers check for an existing one).

    By default commits are ten minutes apart from September 2020. `years`: spread them evenly over that many
    years instead, ending at `end` (a Unix time; default: the end of 2026). `every_author`: each of the `authors`
    writes at least one commit (at a random point of the history), so a big team is really that big.
    `quiet`: (start, end) as fractions of the span with no commits at all (a gap to see on a time axis).
    """
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    people = [(f"Developer {i}", f"dev{i}@example.com") for i in range(authors)]
    weights = [1.0 / (i + 1) ** 0.8 for i in range(authors)]  # a few very active people, a long tail
    dirs = [f"src/pkg{d}/mod{m}" for d in range(40) for m in range(5)]
    exts = [".py", ".js", ".go", ".md", ".c"]
    names = [f"{rng.choice(dirs)}/file{i}{rng.choice(exts)}" for i in range(files)]
    names += [f"vendor/lib{i}/lib.js" for i in range(20)] + ["package-lock.json", "web/app.min.js"]
    content: dict[str, list[str]] = {}
    proc = subprocess.Popen(
        ["git", "-C", str(path), "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE, bufsize=1 << 20
    )
    assert proc.stdin is not None
    out = proc.stdin
    t0 = 1_600_000_000
    mark = 0
    main_tip = 0
    side: tuple[int, set[str]] | None = None  # (tip mark, files touched on the side branch)

    forced: int | None = None  # the author of the commit being written, when chosen (`every_author`)

    def write_commit(ref: str, parents: list[int], changed: dict[str, bytes | None], when: int, msg: str) -> int:
        nonlocal mark
        mark += 1
        name, email = people[forced] if forced is not None else rng.choices(people, weights)[0]
        out.write(f"commit {ref}\nmark :{mark}\n".encode())
        out.write(f"author {name} <{email}> {when} +0000\ncommitter {name} <{email}> {when} +0000\n".encode())
        data = msg.encode()
        out.write(b"data %d\n%s\n" % (len(data), data))
        if parents:
            out.write(b"from :%d\n" % parents[0])
        for p in parents[1:]:
            out.write(b"merge :%d\n" % p)
        for file, blob in changed.items():
            if blob is None:
                out.write(f"D {file}\n".encode())
            else:
                out.write(f"M 100644 inline {file}\n".encode() + b"data %d\n" % len(blob) + blob + b"\n")
        out.write(b"\n")
        return mark

    def edit(file: str) -> bytes:
        lines = content.get(file)
        if lines is None:
            lines = [_line(rng) for _ in range(rng.randint(5, 120))]
        else:
            size = rng.choice([1, 1, 2, 3, 5, 8, 20, 60, 200])
            at = rng.randint(0, len(lines))
            removed = rng.randint(0, min(size, len(lines) - at))
            lines[at : at + removed] = [_line(rng) for _ in range(rng.randint(0, size))]
            if len(lines) > 400:
                del lines[: len(lines) - 300]
        content[file] = lines
        return "".join(lines).encode()

    step, span = 600.0, 0.0
    if years is not None:
        span = years * 365.25 * 86400
        t0 = int((end if end is not None else 1_798_675_200) - span)  # 2027-01-01 UTC by default
        step = span / max(commits, 1)
        if quiet is not None:
            step = span * (1 - (quiet[1] - quiet[0])) / max(commits, 1)
    debut = dict(zip(rng.sample(range(commits), authors), range(authors), strict=True)) if every_author else {}

    def at(i: int) -> int:
        offset = i * step
        if years is not None and quiet is not None and offset >= quiet[0] * span:
            offset += (quiet[1] - quiet[0]) * span  # skip the quiet stretch
        return t0 + int(offset) + rng.randint(0, max(int(step * 0.8), 1) if years is not None else 500)

    for i in range(commits):
        when = at(i)
        forced = debut.get(i)
        on_side = side is not None and rng.random() < 0.5
        touched = side[1] if side else set()
        changed: dict[str, bytes | None] = {}
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4, 6, 10])):
            file = rng.choice(names)
            if not on_side and file in touched:
                continue
            changed[file] = edit(file)
            if on_side:
                touched.add(file)
        if rng.random() < 0.01:  # a binary asset now and then
            changed[f"assets/img{rng.randint(0, 50)}.png"] = bytes(rng.getrandbits(8) for _ in range(300)) + b"\0"
        if rng.random() < 0.003 and content:  # renames keep their history
            old = rng.choice(sorted(content))
            new = old.replace("file", "renamed", 1) + f".r{i}"
            if old not in touched and new not in content:
                content[new] = content.pop(old)
                if old in names:
                    names[names.index(old)] = new
                changed[old] = None
                changed[new] = "".join(content[new]).encode()
        if on_side and side is not None:
            side = (write_commit("refs/heads/side", [side[0]], changed, when, f"side work {i}"), touched)
        else:
            main_tip = write_commit("refs/heads/main", [main_tip] if main_tip else [], changed, when, f"change {i}")
        if side is None and rng.random() < 0.05 and main_tip:
            side = (main_tip, set())
        elif side is not None and side[0] != main_tip and rng.random() < 0.1:
            merged = {f: "".join(content[f]).encode() for f in side[1] if f in content}
            forced = None
            main_tip = write_commit("refs/heads/main", [main_tip, side[0]], merged, when + 1, "Merge branch side")
            side = None
    out.write(b"done\n")
    out.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    subprocess.run(["git", "-C", str(path), "update-ref", "-d", "refs/heads/side"], check=False)
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    people = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    span = float(sys.argv[4]) if len(sys.argv) > 4 else None
    generate(target, commits=count, authors=people, years=span, every_author=people > 200)
    print(target)
