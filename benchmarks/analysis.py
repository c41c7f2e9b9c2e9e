"""Git analysis benchmark: ours vs plain `git log` vs PyDriller, measured side by side in one run.

    .venv/bin/pip install -e '.[bench]'          # PyDriller, for the comparison only
    .venv/bin/python benchmarks/analysis.py [--repo PATH] [--commits 50000] [--pydriller-commits 1500]

Generates (once; reused if PATH exists) a repository with `git fast-import` (benchmarks/gen_repo.py), then:
1. the reference: plain `git log --no-merges --numstat HEAD`, output drained;
2. our full analysis (sharded read + identities + rollups stored in a fresh SQLite database + events);
3. an incremental analysis after one new commit;
4. PyDriller computing the same per-author totals (commits, insertions, deletions, files) on the oldest N
   non-merge commits, extrapolated linearly to the whole history (a full run would take minutes; the oldest
   commits have the smallest files, so the extrapolation flatters PyDriller, if anything);
and prints each figure, the ratios, our peak memory (this process; git children reported separately) and the
machine load, because other work on the machine moves every figure.

`--languages-hours both` adds, in every round, a full analysis with languages and hours of the week turned off
(`GITPRODUCTIVITY_LANGUAGES_HOURS=false`) right after the one with them on, and prints the two side by side
(their cost); `on` / `off` run only that one. `--no-ownership` leaves ownership (blame at the head) out, so that
the commit read alone is compared.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def ensure_repo(path: Path, commits: int) -> None:
    if (path / "HEAD").is_file():
        return
    print(f"generating {commits} commits into {path} (git fast-import) ...", flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / "gen_repo.py"), str(path), str(commits)], check=True)
    print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)


def add_one_commit(path: Path) -> None:
    stamp = int(time.time())
    body = f"one more line {stamp}\n".encode()
    stream = (
        b"commit refs/heads/main\n"
        + f"author Bench Person <bench@example.com> {stamp} +0000\n".encode()
        + f"committer Bench Person <bench@example.com> {stamp} +0000\n".encode()
        + b"data 8\none more\nfrom refs/heads/main^0\n"
        + b"M 100644 inline bench/new.txt\n"
        + b"data %d\n%s\n\n" % (len(body), body)
    )
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=stream, check=True)


def time_plain_git_log(path: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["git", "-C", str(path), "log", "--no-merges", "--numstat", "HEAD"], stdout=subprocess.DEVNULL, check=True
    )
    return time.perf_counter() - started


def pydriller_totals(path: Path, limit: int) -> tuple[float, int]:
    from pydriller import Repository

    totals: dict[str, list[int]] = {}
    started = time.perf_counter()
    count = 0
    for commit in Repository(str(path), only_no_merge=True, order="reverse").traverse_commits():
        row = totals.setdefault(commit.author.email.lower(), [0, 0, 0, 0])
        row[0] += 1
        row[1] += commit.insertions
        row[2] += commit.deletions
        row[3] += commit.files
        count += 1
        if count >= limit:
            break
    return time.perf_counter() - started, count


def main() -> None:
    from gitproductivity import startup

    startup.install()  # webhooks hears every event, as in the service
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=Path(tempfile.gettempdir()) / "gp-bench-repo.git")
    parser.add_argument("--commits", type=int, default=50_000)
    parser.add_argument("--pydriller-commits", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved git log / full analysis rounds")
    parser.add_argument("--shards", type=int, default=0, help="git processes per analysis (0: one per core)")
    parser.add_argument(
        "--database-url", default="", help="an empty database to use instead of a fresh SQLite file (PostgreSQL)"
    )
    parser.add_argument("--skip-pydriller", action="store_true", help="leave out the PyDriller comparison")
    parser.add_argument("--languages-hours", choices=("on", "off", "both"), default="on")
    parser.add_argument("--no-ownership", action="store_true", help="leave ownership (blame at the head) out")
    parser.add_argument(
        "--categories",
        action="store_true",
        help="instead: full analyses with change categories off, on, and on with ownership, side by side",
    )
    parser.add_argument(
        "--commit-graph",
        action="store_true",
        help="write a commit-graph with changed-path filters into the repository first (what mirrors get)",
    )
    args = parser.parse_args()
    ensure_repo(args.repo, args.commits)
    if args.commit_graph:
        subprocess.run(
            ["git", "-C", str(args.repo), "commit-graph", "write", "--reachable", "--changed-paths"], check=True
        )
    if args.categories:
        categories_side_by_side(args)
        return
    total = int(
        subprocess.run(
            ["git", "-C", str(args.repo), "rev-list", "--count", "HEAD"], capture_output=True, text=True, check=True
        ).stdout
    )
    merges = int(
        subprocess.run(
            ["git", "-C", str(args.repo), "rev-list", "--merges", "--count", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    load_before = os.getloadavg()

    work = Path(tempfile.mkdtemp(prefix="gp-bench-"))
    from gitproductivity.core import settings
    from gitproductivity.core.db import get_database

    settings.configure(
        database_url=args.database_url or f"sqlite:///{work / 'bench.db'}",
        data_dir=work / "data",
        log_level="WARNING",
        analysis_shards=args.shards,
        languages_hours=args.languages_hours != "off",
        ownership=not args.no_ownership,
    )
    base_settings = dict(settings._overrides)

    def switch(on: bool) -> None:
        settings.configure(**{**base_settings, "languages_hours": on})

    from gitproductivity.analysis import jobs
    from gitproductivity.analysis import run as runner
    from gitproductivity.analysis.models import Analysis
    from gitproductivity.core import migrate
    from gitproductivity.orgs import service as orgs
    from gitproductivity.repositories import flows

    migrate.upgrade(get_database().engine)
    with get_database().session() as session:
        org_id = orgs.bootstrap(session, email="bench@example.com").organization.id
        repo_id = flows.connect(session, organization_id=org_id, url=str(args.repo)).id

    def analyse(full: bool = False) -> tuple[float, float, Analysis]:
        cpu0 = cpu_seconds()
        started = time.perf_counter()
        analysis_id = runner.run_now(organization_id=org_id, repository_id=repo_id, trigger="cli", full=full)
        elapsed = time.perf_counter() - started
        with get_database().session() as session:
            return elapsed, cpu_seconds() - cpu0, jobs.get(session, organization_id=org_id, analysis_id=analysis_id)

    print(f"repository: {total} commits ({merges} merges), {args.repo}", flush=True)
    # Interleaved rounds (git log, ours, git log, ours …): the load other work puts on the machine changes by
    # the second, so each side gets the same conditions as far as possible; the best round of each is compared.
    gits: list[float] = []
    ours: list[float] = []
    offs: list[float] = []
    run = None
    for round_no in range(args.rounds):
        cpu0 = cpu_seconds()
        gits.append(time_plain_git_log(args.repo))
        git_cpu = cpu_seconds() - cpu0
        print(
            f"round {round_no + 1}: plain git log --no-merges --numstat HEAD  {gits[-1]:6.2f} s  (cpu {git_cpu:.1f} s)",
            flush=True,
        )
        elapsed, cpu, run = analyse(full=round_no > 0)
        assert run.status == "succeeded", run.error
        ours.append(elapsed)
        print(
            f"round {round_no + 1}: our full analysis                       {elapsed:6.2f} s  (cpu {cpu:.1f} s;"
            f" read {run.read_ms} ms, store {run.store_ms} ms; {run.commits_analysed} commits,"
            f" {run.developers_updated} developers updated)  ratio {elapsed / gits[-1]:.2f}x  "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if args.languages_hours == "both":  # the same full read with them off, right after (a rule change)
            switch(False)
            elapsed_off, cpu_off, run_off = analyse(full=True)
            assert run_off.status == "succeeded", run_off.error
            offs.append(elapsed_off)
            print(
                f"round {round_no + 1}: ... without languages and hours  {elapsed_off:6.2f} s  (cpu {cpu_off:.1f} s;"
                f" read {run_off.read_ms} ms, store {run_off.store_ms} ms)  on / off {elapsed / elapsed_off:.2f}x",
                flush=True,
            )
            switch(True)
    peak_ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_git = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if args.languages_hours == "both":
        analyse(full=True)  # back to the rules in force, so that the next analysis is an incremental one
    add_one_commit(args.repo)
    incremental, _cpu, run2 = analyse()
    assert run2.status == "succeeded" and run2.mode == "incremental", (run2.mode, run2.error)
    print(f"incremental after one new commit:         {incremental:.3f} s  ({run2.commits_analysed} commit)")
    subprocess.run(["git", "-C", str(args.repo), "update-ref", "refs/heads/main", "refs/heads/main^"], check=True)

    pd_full = float("nan")
    if not args.skip_pydriller:
        pd_time, pd_count = pydriller_totals(args.repo, args.pydriller_commits)
        pd_full = pd_time * (total - merges) / pd_count
        print(
            f"PyDriller, oldest {pd_count} commits:       {pd_time:.2f} s -> extrapolated to the whole history "
            f"{pd_full:.0f} s"
        )
    best_git, best_ours = min(gits), min(ours)
    print()
    print(
        f"full / plain git log:   {best_ours / best_git:.2f}x  (best {best_ours:.2f} s vs best {best_git:.2f} s;"
        " target <= 0.8x)"
    )
    if offs:
        print(
            f"languages and hours:    on {best_ours:.2f} s vs off {min(offs):.2f} s best vs best: "
            f"{best_ours / min(offs):.2f}x ({best_ours - min(offs):+.2f} s)"
        )
    print(f"incremental:            {incremental:.3f} s (target < 1 s)")
    print(
        f"peak memory:            {peak_ours:.0f} MB in our process (target < 300 MB); "
        f"largest git process {peak_git:.0f} MB (the reference git log included)"
    )
    if not args.skip_pydriller:
        print(f"PyDriller / ours:       {pd_full / best_ours:.0f}x slower than ours (target >= 10x)")
    print(
        f"machine:                {os.cpu_count()} cores, load average before {load_before[0]:.1f}, "
        f"after {os.getloadavg()[0]:.1f}; shards {settings.get_settings().analysis_shards or os.cpu_count()}"
    )


def categories_side_by_side(args: argparse.Namespace) -> None:
    """Full analyses with change categories off, then on, interleaved with plain `git log -p`, in one run; then
    an incremental analysis after one new commit with categories on. Checks rework + help_others + refactor
    equals lines_deleted over the whole repository (the generated history has no ignored revisions)."""
    from sqlalchemy import func, select

    from gitproductivity.analysis import jobs
    from gitproductivity.analysis import run as runner
    from gitproductivity.core import migrate, settings
    from gitproductivity.core.db import get_database
    from gitproductivity.metrics.models import DailyRollup
    from gitproductivity.orgs import service as orgs
    from gitproductivity.repositories import flows

    work = Path(tempfile.mkdtemp(prefix="gp-bench-cat-"))
    common = {
        "database_url": args.database_url or f"sqlite:///{work / 'bench.db'}",
        "data_dir": work / "data",
        "log_level": "WARNING",
        "analysis_shards": args.shards,
        "ownership": False,
    }
    settings.configure(**common)
    migrate.upgrade(get_database().engine)
    with get_database().session() as session:
        org_id = orgs.bootstrap(session, email="bench@example.com").organization.id
        repo_id = flows.connect(session, organization_id=org_id, url=str(args.repo)).id
    total = subprocess.run(
        ["git", "-C", str(args.repo), "rev-list", "--count", "--no-merges", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"repository: {total} non-merge commits, {args.repo}; load {os.getloadavg()[0]:.1f}", flush=True)

    def analyse(on: bool, full: bool = True, owned: bool = False) -> tuple[float, float, int]:
        settings.configure(**{**common, "ownership": owned}, change_categories=on)
        cpu0 = cpu_seconds()
        started = time.perf_counter()
        analysis_id = runner.run_now(organization_id=org_id, repository_id=repo_id, trigger="cli", full=full)
        elapsed = time.perf_counter() - started
        with get_database().session() as session:
            run = jobs.get(session, organization_id=org_id, analysis_id=analysis_id)
            assert run.status == "succeeded", run.error
            return elapsed, cpu_seconds() - cpu0, run.read_ms or 0

    def git_log_p() -> float:
        started = time.perf_counter()
        subprocess.run(
            ["git", "-C", str(args.repo), "log", "-p", "--no-merges", "HEAD"], stdout=subprocess.DEVNULL, check=True
        )
        return time.perf_counter() - started

    offs: list[float] = []
    ons: list[float] = []
    provs: list[float] = []
    logs: list[float] = []
    for round_no in range(args.rounds):
        logs.append(git_log_p())
        off, off_cpu, off_read = analyse(False)
        offs.append(off)
        on, on_cpu, on_read = analyse(True)
        ons.append(on)
        prov, prov_cpu, prov_read = analyse(True, owned=True)
        provs.append(prov)
        print(
            f"round {round_no + 1}: git log -p --no-merges {logs[-1]:6.2f} s | categories off {off:6.2f} s"
            f" (cpu {off_cpu:.1f} s, read {off_read} ms) | on {on:6.2f} s (cpu {on_cpu:.1f} s, read {on_read} ms)"
            f" | on with ownership {prov:6.2f} s (cpu {prov_cpu:.1f} s, read {prov_read} ms)"
            f" | load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    with get_database().session() as session:
        sums = session.execute(
            select(
                func.sum(DailyRollup.lines_deleted),
                func.sum(DailyRollup.rework + DailyRollup.help_others + DailyRollup.refactor),
                func.sum(DailyRollup.new_work),
                func.sum(DailyRollup.rework),
                func.sum(DailyRollup.help_others),
                func.sum(DailyRollup.refactor),
            )
        ).one()
    assert sums[0] == sums[1], sums
    print(
        f"lines deleted {sums[0]} = rework {sums[3]} + help others {sums[4]} + refactor {sums[5]}; new work {sums[2]}"
    )
    add_one_commit(args.repo)
    incremental, _cpu, inc_read = analyse(True, full=False, owned=True)
    print(f"incremental after one new commit, categories and ownership on: {incremental:.3f} s (read {inc_read} ms)")
    subprocess.run(["git", "-C", str(args.repo), "update-ref", "refs/heads/main", "refs/heads/main^"], check=True)
    best_off, best_on, best_log, best_prov = min(offs), min(ons), min(logs), min(provs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"categories on / off:        {best_on / best_off:.2f}x (best {best_on:.2f} s vs {best_off:.2f} s)")
    print(f"categories on / git log -p: {best_on / best_log:.2f}x (best {best_log:.2f} s)")
    print(f"categories and ownership on / git log -p: {best_prov / best_log:.2f}x (best {best_prov:.2f} s)")
    print(f"peak memory (this process): {peak:.0f} MB; load after {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores")


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
