"""Ownership benchmark: ours (full and incremental) against `git blame` on every file, side by side in one run.

    .venv/bin/python benchmarks/ownership.py [--repo PATH] [--commits 5000]

Generates (once; reused if PATH exists) a repository with `git fast-import` (benchmarks/gen_repo.py), then:
1. the reference, what git-fame and gitinspector do: `git blame --line-porcelain HEAD -- FILE` for every
   counted file, one after the other, lines counted per author e-mail;
2. our full computation file by file (`analysis.ownership.compute`, no previous result: every file blamed, in
   parallel), as for a repository with fewer than `ownership.REPLAY_FILES` files;
3. our full computation from one replay of history (`analysis.origins`, what a first or full analysis does):
   the replay, then a blame only for the files it cannot tell;
4. our incremental computation after one new commit (the previous result reused);
and checks that 1, 2 and 3 give every author the same lines, then prints each figure and the ratios with the machine
load, because other work on the machine moves every figure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from analysis import add_one_commit, ensure_repo  # noqa: E402
from gitproductivity.analysis import exclusions, ownership, replay  # noqa: E402


def blame_every_file(path: Path, files: list[bytes]) -> tuple[float, Counter[str]]:
    totals: Counter[str] = Counter()
    started = time.perf_counter()
    for raw in files:
        out = subprocess.run(
            ["git", "-C", str(path), "--literal-pathspecs", "blame", "--line-porcelain", "HEAD", "--", raw],
            capture_output=True,
            check=True,
        ).stdout
        for line in out.split(b"\n"):
            if line.startswith(b"author-mail "):
                totals[line[12:].strip().strip(b"<>").decode().lower()] += 1
    return time.perf_counter() - started, totals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, default=None)
    parser.add_argument("--commits", type=int, default=5_000)
    args = parser.parse_args()
    args.repo = args.repo or Path(tempfile.gettempdir()) / f"gp-bench-ownership-{args.commits}.git"
    ensure_repo(args.repo, args.commits)
    head = subprocess.run(["git", "-C", str(args.repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    paths = exclusions.PathFilter(exclusions.DEFAULT_EXCLUDES)
    files = ownership.tree(args.repo, head.stdout.strip(), paths)
    binary = ownership.binary_blobs(args.repo, (blob for blob, _ in files.values()))
    text = [raw for path, (blob, raw) in sorted(files.items()) if blob not in binary]
    print(f"repository: {args.repo} ({len(text)} counted files), cores: {os.cpu_count()}, load {os.getloadavg()}")

    reference_s, reference = blame_every_file(args.repo, text)
    print(f"git blame on every file, one after the other: {reference_s:8.2f} s")

    started = time.perf_counter()
    full = ownership.compute(
        args.repo, head=head.stdout.strip(), paths=paths, mailmap="", rules_fingerprint="", previous=None
    )
    full_s = time.perf_counter() - started
    ours = Counter({who: n for who, n in full.by_directory()[""].items()})
    assert ours == reference, "ownership differs from git blame"
    print(f"ours, full (every file blamed, in parallel):  {full_s:8.2f} s  ({reference_s / full_s:.1f}x faster)")

    started = time.perf_counter()
    tip = head.stdout.strip()
    history = replay.replay_history(args.repo, tip, paths)
    assert history is not None
    replay_s = time.perf_counter() - started
    replayed = ownership.compute(
        args.repo,
        head=tip,
        paths=paths,
        mailmap="",
        rules_fingerprint="",
        previous=None,
        known=lambda ignored: history.owners(tip, ignored),
    )
    replayed_s = time.perf_counter() - started
    assert Counter(dict(replayed.by_directory()[""].items())) == reference, "the replay differs from git blame"
    unknown = sum(1 for _blob, counts in history.owners(tip, set()).values() if counts is None)
    print(
        f"ours, full from one replay of history:        {replayed_s:8.2f} s  ({reference_s / replayed_s:.1f}x faster;"
        f" replay {replay_s:.2f} s, {unknown} file(s) left to blame)"
    )

    add_one_commit(args.repo)
    new_head = subprocess.run(["git", "-C", str(args.repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    previous = ownership.Previous(full.head, full.fingerprint, full.files)
    started = time.perf_counter()
    incremental = ownership.compute(
        args.repo, head=new_head.stdout.strip(), paths=paths, mailmap="", rules_fingerprint="", previous=previous
    )
    incremental_s = time.perf_counter() - started
    print(
        f"ours, incremental after one new commit:       {incremental_s:8.2f} s  "
        f"({reference_s / incremental_s:.0f}x faster; {incremental.blamed} file(s) blamed)"
    )
    subprocess.run(["git", "-C", str(args.repo), "update-ref", "refs/heads/main", "HEAD~1"], check=True)
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
