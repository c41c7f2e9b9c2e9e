"""Fault scenarios: processes and the database killed or restarted while webhooks are being delivered.

    .venv/bin/python benchmarks/faults.py worker-crash   [--events 20000] [--kills 10] [--every 3]
    .venv/bin/python benchmarks/faults.py server-crash   [--events 3000]  [--kills 3]  [--every 3]
    .venv/bin/python benchmarks/faults.py db-restart     [--events 10000] [--restarts 2] [--every 4]
    .venv/bin/python benchmarks/faults.py all

A receiver runs in its own process on 127.0.0.1 and records the `webhook-id` (the event id) of every POST.
Events are committed while the faults happen; the database's `events` table is the truth: an event is lost
when it is in that table and the receiver never got it. Each scenario exits non-zero if anything is lost, if
a delivery is left pending, or if a worker is stuck; each is bounded by `--timeout` (seconds, the whole run).

- worker-crash: two `gitproductivity worker` processes on a fresh PostgreSQL database; one of them (in turn)
  is SIGKILLed every `--every` seconds and started again, `--kills` times. Duplicates are reported with their
  bound: right after each kill, the events the receiver has seen but the database has not recorded as sent
  (the killed worker's POSTs that were answered but not yet recorded are among them; only those come again).
- server-crash: `gitproductivity serve` (API and workers in one process) on SQLite; events come in through
  the API (`POST /v1/developers`, each one a `developer.added`) while the server is SIGKILLed and restarted.
- db-restart: a throwaway PostgreSQL cluster of its own (initdb/pg_ctl from /usr/lib/postgresql/15/bin as
  the `postgres` user, a temporary directory, a free port: the shared server is never touched), two workers
  on it, the cluster restarted (`pg_ctl restart -m fast`, what `pg_ctlcluster ... restart` does) mid-run.
  Afterwards each worker in turn is paused (SIGSTOP) while the other alone must deliver a fresh wave, which
  shows that both reconnected; then both must stop on SIGTERM with exit code 0.

Figures: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

EXE = str(Path(sys.executable).with_name("gitproductivity"))
PG_BIN = Path("/usr/lib/postgresql/15/bin")


class ScenarioFailed(Exception):
    pass


# --- the receiver (its own process) ---------------------------------------------------------------------


def _receiver_main(port: int, delay: float, ready: Any) -> None:
    import asyncio

    from aiohttp import web

    seen: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        if delay:
            await asyncio.sleep(delay)
        seen.append(request.headers.get("webhook-id", ""))
        return web.Response(text="ok")

    async def ids(_request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(seen))

    async def reset(_request: web.Request) -> web.Response:
        seen.clear()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ids", ids)
    app.router.add_post("/reset", reset)
    app.router.add_post("/hook", hook)
    ready.set()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


class Receiver:
    def __init__(self, delay: float) -> None:
        ctx = mp.get_context("spawn")
        self.port = free_port()
        ready = ctx.Event()
        self.proc = ctx.Process(target=_receiver_main, args=(self.port, delay, ready), daemon=True)
        self.proc.start()
        if not ready.wait(30):
            raise ScenarioFailed("the receiver did not start")
        wait_until(lambda: _try(lambda: self.received()) is not None, 10, "the receiver to answer")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def received(self) -> list[str]:
        """Every webhook-id received, one entry per POST (duplicates included)."""
        data: list[str] = json.loads(http("GET", f"http://127.0.0.1:{self.port}/ids"))
        return data

    def reset(self) -> None:
        http("POST", f"http://127.0.0.1:{self.port}/reset")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(10)


# --- helpers --------------------------------------------------------------------------------------------


def http(method: str, url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> str:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(resp.read().decode())


def _try(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise ScenarioFailed(f"timed out after {timeout:.0f} s waiting for {what}")


def base_env(url: str, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITPRODUCTIVITY_")}
    env.update(
        GITPRODUCTIVITY_DATABASE_URL=url,
        GITPRODUCTIVITY_DATA_DIR=str(tmp / "data"),
        GITPRODUCTIVITY_SECRET_KEY="faults-benchmark-not-a-secret",
        GITPRODUCTIVITY_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
        # A crashed worker's deliveries are taken again when their lease ends: keep that short here.
        GITPRODUCTIVITY_WEBHOOK_TIMEOUT="2",
        GITPRODUCTIVITY_WEBHOOK_LEASE_SECONDS="5",
        GITPRODUCTIVITY_ANALYSIS_RECHECK_INTERVAL="0",
        GITPRODUCTIVITY_LOG_LEVEL="INFO",
        **extra,
    )
    return env


class Procs:
    """Subprocesses started by this script; each one is stopped by its own pid."""

    def __init__(self, tmp: Path, env: dict[str, str], argv: list[str]) -> None:
        self.tmp, self.env, self.argv = tmp, env, argv
        self.all: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, ready: str | None = "webhook dispatcher started") -> subprocess.Popen[bytes]:
        """Start one and (unless `ready` is None) wait until its log shows that line."""
        path = self.tmp / f"{name}-{len(self.all)}.log"
        log = open(path, "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen([EXE, *self.argv], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.all.append(proc)
        if ready is not None:
            wait_until(lambda: ready in path.read_text(errors="replace"), 60, f"{name} to start")
        return proc

    def keep_logs(self, where: str | None, name: str) -> None:
        if where:
            target = Path(where) / name
            target.mkdir(parents=True, exist_ok=True)
            for log in self.tmp.glob("*.log"):
                shutil.copy(log, target / log.name)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("*.log")))

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def term_all(self, timeout: float = 30) -> list[int | None]:
        live = [p for p in self.all if p.poll() is None]
        for p in live:
            p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for p in live:
            try:
                codes.append(p.wait(timeout))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
                codes.append(None)
        return codes


def prepare(url: str, receiver: Receiver) -> tuple[str, str]:
    """Migrate, create an organisation and one webhook (every event type) to the receiver."""
    from gitproductivity.core import migrate, settings
    from gitproductivity.core.db import Database
    from gitproductivity.orgs import service as orgs
    from gitproductivity.webhooks import endpoints

    settings.configure(database_url=url, webhook_allowed_networks="127.0.0.0/8", log_level="WARNING")
    db = Database(url, pool_size=2)
    try:
        migrate.upgrade(db.engine)
        with db.session() as session:
            created = orgs.bootstrap(session, email="faults@example.com")
            org = created.organization.id
            endpoints.create(session, organization_id=org, url=receiver.url, events=["*"])
    finally:
        db.dispose()
    return org, created.api_key


class Truth:
    """What the database says: the events that exist, and which deliveries are still pending or failed."""

    def __init__(self, url: str) -> None:
        from gitproductivity.core.db import Database

        self.db = Database(url, pool_size=2)

    def events(self) -> set[str]:
        from sqlalchemy import select

        from gitproductivity.events.models import Event

        with self.db.session() as session:
            return set(session.scalars(select(Event.id)))

    def sent(self) -> set[str]:
        from sqlalchemy import select

        from gitproductivity.webhooks.models import Delivery

        with self.db.session() as session:
            return set(session.scalars(select(Delivery.event_id).where(Delivery.status == "succeeded")))

    def statuses(self) -> dict[str, int]:
        from sqlalchemy import func, select

        from gitproductivity.webhooks.models import Delivery

        with self.db.session() as session:
            rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        return {s: int(n) for s, n in rows}

    def close(self) -> None:
        self.db.dispose()


class Producer(threading.Thread):
    """Commits `total` events at about `rate` per second, in transactions of `chunk`; survives database errors."""

    def __init__(self, url: str, org: str, total: int, rate: float, chunk: int = 50) -> None:
        super().__init__(daemon=True)
        from gitproductivity.core.db import Database

        self.db = Database(url, pool_size=2)
        self.org, self.total, self.rate, self.chunk = org, total, rate, chunk
        self.committed = 0
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        from gitproductivity.events import service as events
        from gitproductivity.events.payloads import MetricsUpdated

        t0 = time.monotonic()
        while self.committed < self.total and not self.stop.is_set():
            n = min(self.chunk, self.total - self.committed)
            try:
                with self.db.session() as session:
                    for _i in range(n):
                        events.emit(session, organization_id=self.org, data=MetricsUpdated.example)
                self.committed += n
            except Exception:  # the database is restarting: try again (the truth is the events table)
                self.errors += 1
                time.sleep(0.2)
                continue
            ahead = t0 + self.committed / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        self.db.dispose()


def settle(truth: Truth, receiver: Receiver, timeout: float) -> tuple[set[str], list[str]]:
    """Wait until every event in the database was received and every delivery is recorded."""

    def done() -> tuple[set[str], list[str]] | None:
        events, got = truth.events(), receiver.received()
        statuses = truth.statuses()
        if events <= set(got) and set(statuses) <= {"succeeded"} and statuses.get("succeeded", 0) == len(events):
            return events, got
        return None

    try:
        result: tuple[set[str], list[str]] = wait_until(done, timeout, "every event to be delivered and recorded")
    except ScenarioFailed:
        events, got = truth.events(), receiver.received()
        lost = len(events - set(got))
        raise ScenarioFailed(
            f"not settled: {lost} of {len(events)} events never received; {truth.statuses()}"
        ) from None
    return result


def summary(events: set[str], got: list[str]) -> dict[str, int]:
    unique = set(got)
    return {
        "events": len(events),
        "lost": len(events - unique),
        "received": len(got),
        "duplicates": len(got) - len(unique),
        "unknown": len(unique - events),
    }


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    import psycopg

    name = f"gp_faults_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- worker crash -------------------------------------------------------------------------------------------


def worker_crash(args: argparse.Namespace) -> dict[str, Any]:
    receiver = Receiver(args.receiver_delay)
    try:
        with tempfile.TemporaryDirectory() as d, postgres_database(args.postgres) as url:
            return _worker_crash(args, Path(d), url, receiver)
    finally:
        receiver.stop()


def _worker_crash(args: argparse.Namespace, tmp: Path, url: str, receiver: Receiver) -> dict[str, Any]:
    org, _ = prepare(url, receiver)
    procs = Procs(tmp, base_env(url, tmp), ["worker"])
    truth = Truth(url)
    t_start = time.monotonic()
    workers = [procs.start("worker"), procs.start("worker")]
    startup = (time.monotonic() - t_start) / 2  # a restarted worker takes this long to claim again
    # Spread the events over the whole kill schedule, so there is always work in flight when one dies.
    schedule = args.kills * (args.every + 0.3 + startup)
    producer = Producer(url, org, args.events, rate=args.events / schedule, chunk=10)  # a steady flow
    t0 = time.monotonic()
    producer.start()
    in_flight: list[int] = []
    try:
        for k in range(args.kills):
            time.sleep(args.every)
            victim = k % 2
            procs.kill(workers[victim])
            time.sleep(0.3)  # POSTs already written by the dead worker reach the receiver
            got, sent = set(receiver.received()), truth.sent()
            in_flight.append(len(got - sent))  # answered but not recorded: only these can come again
            workers[victim] = procs.start("worker")
            print(
                f"  kill {k + 1}: worker {victim} SIGKILLed, {len(got)} events received so far, "
                f"{in_flight[-1]} received but not recorded",
                flush=True,
            )
        producer.join(args.timeout)
        events, got = settle(truth, receiver, args.timeout)
        elapsed = time.monotonic() - t0
        alive = all(w.poll() is None for w in workers)
    finally:
        producer.stop.set()
        codes = procs.term_all()
        truth.close()
        procs.keep_logs(args.logs, args.scenario_name)
    result = summary(events, got)
    result.update(
        kills=args.kills,
        worker_start_seconds=round(startup, 1),
        duplicate_bound=sum(in_flight),
        in_flight_max=max(in_flight, default=0),
        seconds=round(elapsed, 1),
        workers_alive=alive,
        exit_codes=codes,
        tracebacks=procs.logs().count("Traceback"),
    )
    check(result, extra_ok=result["duplicates"] <= result["duplicate_bound"] and alive and codes == [0, 0])
    return result


def check(result: dict[str, Any], *, extra_ok: bool = True) -> None:
    if result["lost"] != 0 or not extra_ok:
        raise ScenarioFailed(f"FAILED: {result}")


# --- server crash (SQLite) ----------------------------------------------------------------------------------


def server_crash(args: argparse.Namespace) -> dict[str, Any]:
    receiver = Receiver(args.receiver_delay)
    try:
        with tempfile.TemporaryDirectory() as d:
            return _server_crash(args, Path(d), receiver)
    finally:
        receiver.stop()


def _server_crash(args: argparse.Namespace, tmp: Path, receiver: Receiver) -> dict[str, Any]:
    url = f"sqlite:///{tmp / 'gitproductivity.db'}"
    _, api_key = prepare(url, receiver)
    port = free_port()
    procs = Procs(tmp, base_env(url, tmp, GITPRODUCTIVITY_PORT=str(port)), ["serve"])
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {api_key}"}

    def up() -> bool:
        return _try(lambda: http("GET", f"{base}/v1/events?limit=1", headers=auth)) is not None

    server = procs.start("serve", ready=None)
    wait_until(up, 60, "the server to start")
    truth = Truth(url)
    state = {"sent": 0, "refused": 0}
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        while state["sent"] < args.events and not stop.is_set():
            i += 1
            try:
                http("POST", f"{base}/v1/developers", {"name": f"D {n}-{i}", "email": f"d{n}-{i}@example.com"}, auth)
                state["sent"] += 1
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                state["refused"] += 1  # the server is down: the truth is the events table
                time.sleep(0.1)

    clients = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(4)]
    t0 = time.monotonic()
    for c in clients:
        c.start()
    try:
        for k in range(args.kills):
            time.sleep(args.every)
            procs.kill(server)
            print(f"  kill {k + 1}: server SIGKILLed after {state['sent']} accepted requests", flush=True)
            server = procs.start("serve", ready=None)
            wait_until(up, 60, "the server to start again")
        for c in clients:
            c.join(args.timeout)
        events, got = settle(truth, receiver, args.timeout)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        codes = procs.term_all()
        truth.close()
        procs.keep_logs(args.logs, args.scenario_name)
    result = summary(events, got)
    result.update(
        kills=args.kills,
        committed_but_unanswered=max(0, len(events) - state["sent"]),
        requests_accepted=state["sent"],
        requests_failed=state["refused"],
        seconds=round(elapsed, 1),
        exit_codes=codes,
        tracebacks=procs.logs().count("Traceback"),
    )
    # uvicorn stops gracefully on SIGTERM and then re-raises it: -15 is a clean stop too.
    check(result, extra_ok=codes[-1:] in ([0], [-signal.SIGTERM]))
    return result


# --- database restart (a throwaway PostgreSQL cluster) -----------------------------------------------------


class Cluster:
    """A PostgreSQL cluster of our own, in a temporary directory, owned by the `postgres` OS user."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gp-faults-pg-"))
        pg = pwd.getpwnam("postgres")
        os.chown(self.dir, pg.pw_uid, pg.pw_gid)
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=100"
        self._pg("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "server.log"), "-w", "start")

    def _pg(self, tool: str, *args: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", str(PG_BIN / tool), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise ScenarioFailed(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")

    def restart(self) -> float:
        t0 = time.monotonic()
        # The options given at start are kept in postmaster.opts; the log file is not, and without it the
        # server would keep our pipe open.
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-m", "fast", "-w", "restart")
        return time.monotonic() - t0

    def remove(self) -> None:
        with suppress(ScenarioFailed):
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def db_restart(args: argparse.Namespace) -> dict[str, Any]:
    receiver = Receiver(args.receiver_delay)
    cluster = Cluster()
    try:
        with tempfile.TemporaryDirectory() as d:
            return _db_restart(args, Path(d), cluster.url, cluster, receiver)
    finally:
        cluster.remove()
        receiver.stop()


def _db_restart(args: argparse.Namespace, tmp: Path, url: str, cluster: Cluster, receiver: Receiver) -> dict[str, Any]:
    org, _ = prepare(url, receiver)
    procs = Procs(tmp, base_env(url, tmp), ["worker"])
    truth = Truth(url)
    workers = [procs.start("worker"), procs.start("worker")]
    producer = Producer(url, org, args.events, rate=args.events / (args.restarts * args.every + 2))
    t0 = time.monotonic()
    producer.start()
    downtime: list[float] = []
    solo: list[int] = []
    try:
        for k in range(args.restarts):
            time.sleep(args.every)
            downtime.append(cluster.restart())
            print(f"  restart {k + 1}: PostgreSQL restarted in {downtime[-1]:.1f} s", flush=True)
        producer.join(args.timeout)
        events, got = settle(truth, receiver, args.timeout)
        elapsed = time.monotonic() - t0
        alive = all(w.poll() is None for w in workers)
        # Neither worker is stuck: each alone delivers a fresh wave while the other one is paused.
        for paused in (0, 1):
            workers[paused].send_signal(signal.SIGSTOP)
            wave = Producer(url, org, args.wave, rate=10_000)
            wave.run()
            settle(truth, receiver, 60)
            solo.append(args.wave)
            workers[paused].send_signal(signal.SIGCONT)
        events, got = truth.events(), receiver.received()
    finally:
        producer.stop.set()
        codes = procs.term_all()
        truth.close()
        procs.keep_logs(args.logs, args.scenario_name)
    logs = procs.logs()
    result = summary(events, got)
    result.update(
        restarts=args.restarts,
        restart_seconds=[round(s, 1) for s in downtime],
        producer_retries=producer.errors,
        seconds=round(elapsed, 1),
        solo_waves=solo,
        workers_alive=alive,
        exit_codes=codes,
        listen_reconnects=logs.count("LISTEN connection lost"),
        failed_claims=logs.count("could not claim deliveries"),
        # Outcomes whose recording failed while the database was down: those deliveries are sent again.
        duplicate_bound=sum(int(n) for n in re.findall(r"could not record (\d+) delivery outcomes", logs)),
        tracebacks=logs.count("Traceback"),
    )
    ok = alive and codes == [0, 0] and len(solo) == 2 and result["duplicates"] <= result["duplicate_bound"]
    check(result, extra_ok=ok)
    return result


# --- main -------------------------------------------------------------------------------------------------


SCENARIOS: dict[str, tuple[Callable[[argparse.Namespace], dict[str, Any]], dict[str, Any]]] = {
    "worker-crash": (worker_crash, {"events": 20_000, "kills": 10, "every": 3.0}),
    "server-crash": (server_crash, {"events": 3_000, "kills": 3, "every": 3.0}),
    "db-restart": (db_restart, {"events": 10_000, "restarts": 2, "every": 4.0}),
}


def main() -> None:
    from gitproductivity import startup

    startup.install()  # webhooks hears every event, as in the service
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=[*SCENARIOS, "all"])
    parser.add_argument("--events", type=int, help="events committed during the faults (default per scenario)")
    parser.add_argument("--kills", type=int, help="processes killed (crash scenarios)")
    parser.add_argument("--restarts", type=int, help="database restarts (db-restart)")
    parser.add_argument("--every", type=float, help="seconds between faults")
    parser.add_argument("--wave", type=int, default=500, help="db-restart: events each worker delivers alone after")
    parser.add_argument("--receiver-delay", type=float, default=0.05, help="seconds the receiver takes per POST")
    parser.add_argument("--logs", help="copy the processes' logs into this directory")
    parser.add_argument("--timeout", type=float, default=300, help="hard limit for each scenario, seconds")
    parser.add_argument(
        "--postgres", default=os.environ.get("GP_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    args = parser.parse_args()
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    print(f"cpu cores: {os.cpu_count()}, python {sys.version.split()[0]}", flush=True)
    failed = False
    for name in names:
        run, defaults = SCENARIOS[name]
        scenario_args = argparse.Namespace(**vars(args), scenario_name=name)
        for key, value in defaults.items():
            if getattr(scenario_args, key) is None:
                setattr(scenario_args, key, value)
        for key in ("kills", "restarts", "every"):
            if getattr(scenario_args, key) is None:
                setattr(scenario_args, key, 0)

        def expired(_signum: int, _frame: object) -> None:
            raise ScenarioFailed(f"the hard timeout of {args.timeout:.0f} s ran out")

        signal.signal(signal.SIGALRM, expired)
        signal.alarm(int(args.timeout) + 60)
        print(f"{name}:", flush=True)
        try:
            result = run(scenario_args)
            print(f"{name}: {json.dumps(result)}", flush=True)
        except ScenarioFailed as exc:
            print(f"{name}: {exc}", flush=True)
            failed = True
        finally:
            signal.alarm(0)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
