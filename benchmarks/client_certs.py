"""What a client certificate (mTLS) costs a delivery: https POSTs through our client with and without one.

    .venv/bin/python benchmarks/client_certs.py [--posts 10000] [--rounds 3]

A test PKI is made with the openssl binary (a CA, a server certificate for localhost, an EC P-256 client
certificate); an aiohttp receiver in its own process on 127.0.0.1 serves TLS and asks for a client certificate
(`CERT_OPTIONAL`, so the same receiver takes both kinds). In one run, side by side, rounds alternating:

1. keep-alive: `--posts` signed POSTs at concurrency 64 over https, without and with the client certificate
   (`webhooks.client_certs.identity`, looked up per POST as the dispatcher does): POSTs a second and CPU
   microseconds a POST of this process;
2. new connections: `--posts / 10` POSTs to a path the receiver answers with `Connection: close`, so each POST
   makes a TLS handshake: the handshake with a client certificate is the difference;
3. saving and the first delivery: `client_certs.check` (parse, match, OpenSSL's load, encryption) and a cold
   `identity` (decrypt, load into a new SSLContext), median of 20.

The load average (`uptime`) is printed at the start and the end: the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import socket
import ssl
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CONCURRENCY = 64
KEY = "a-benchmark-credentials-key-0123456789"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd)


def make_pki(root: Path) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Bench CA",
             "-keyout", "ca-key.pem", "-out", "ca.pem", cwd=root)  # fmt: skip
    for name, subject, key_args, ext in (
        ("server", "/CN=localhost", ["RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "subjectAltName=DNS:localhost\n"),
        ("client", "/CN=bench-client", ["EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "extendedKeyUsage=clientAuth\n"),
    ):
        _openssl("genpkey", "-algorithm", *key_args, "-out", f"{name}-key.pem", cwd=root)
        _openssl("req", "-new", "-key", f"{name}-key.pem", "-subj", subject, "-out", f"{name}.csr", cwd=root)
        (root / f"{name}.ext").write_text(ext)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                 "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=root)  # fmt: skip


def _receiver_main(root: str, port: int, ready: Any) -> None:
    from aiohttp import web

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        response = web.Response(text="ok")
        if request.path == "/close":
            response.force_close()
        return response

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(f"{root}/server.pem", f"{root}/server-key.pem")
    context.load_verify_locations(f"{root}/ca.pem")
    context.verify_mode = ssl.CERT_OPTIONAL
    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)
    ready.set()
    web.run_app(app, host="127.0.0.1", port=port, ssl_context=context, print=None, access_log=None)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def posts(url: str, n: int, stored: str | None, info: dict[str, str] | None) -> tuple[float, float]:
    """(POSTs a second, CPU microseconds a POST)."""
    from gitproductivity.core.settings import Settings
    from gitproductivity.webhooks import client_certs
    from gitproductivity.webhooks.client import HttpClient
    from gitproductivity.webhooks.guard import Guard

    settings = Settings(webhook_credentials_key=KEY)
    body = b'{"id":"evt_1","type":"metrics.updated","created_at":"2026-03-19T10:30:00Z","data":{}}'

    async def main() -> float:
        client = HttpClient(guard=Guard(allowed_networks=("127.0.0.0/8",)), timeout=30)
        left = iter(range(n))

        async def worker() -> None:
            for _ in left:
                tls = client_certs.identity(stored, info, settings)
                assert (await client.post(url, body, {"Content-Type": "application/json"}, tls=tls)).status == 200

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - t0
        await client.close()
        return elapsed

    cpu0 = _cpu()
    elapsed = asyncio.run(main())
    return n / elapsed, (_cpu() - cpu0) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print("uptime at start:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_pki(root)
        import os

        os.environ["SSL_CERT_FILE"] = str(root / "ca.pem")  # trust the bench CA (read when contexts are made)
        from gitproductivity.core.settings import Settings
        from gitproductivity.webhooks import client_certs

        settings = Settings(webhook_credentials_key=KEY)
        pair = {"certificate": (root / "client.pem").read_text(), "private_key": (root / "client-key.pem").read_text()}
        stored, info = client_certs.check(pair, settings)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        ready = mp.Event()
        receiver = mp.Process(target=_receiver_main, args=(str(root), port, ready), daemon=True)
        receiver.start()
        ready.wait()
        time.sleep(0.5)
        figures: dict[str, list[tuple[float, float]]] = {}
        try:
            for r in range(args.rounds):
                cases = [("without", None, None), ("with", stored, info)]
                for name, s_, i_ in cases if r % 2 == 0 else cases[::-1]:
                    for kind, path, n in (("keep-alive", "/ok", args.posts), ("new conn", "/close", args.posts // 10)):
                        figures.setdefault(f"{kind:10s} {name:7s}", []).append(
                            posts(f"https://localhost:{port}{path}", n, s_, i_)
                        )
        finally:
            receiver.terminate()
        for label, values in figures.items():
            rate = statistics.median(v[0] for v in values)
            cpu = statistics.median(v[1] for v in values)
            spread = f"{min(v[0] for v in values):.0f}-{max(v[0] for v in values):.0f}"
            what = f"{rate:7.0f} POST/s ({spread})  {cpu:7.1f} us CPU/POST"
            print(f"{label} client certificate: {what} (median of {len(values)})")
        checks, colds = [], []
        for _ in range(20):
            t0 = time.perf_counter()
            client_certs.check(pair, settings)
            checks.append(time.perf_counter() - t0)
            client_certs.clear_cache()
            t0 = time.perf_counter()
            client_certs.identity(stored, info, settings)
            colds.append(time.perf_counter() - t0)
        print(f"saving (check):                 {statistics.median(checks) * 1000:6.1f} ms")
        print(f"first delivery (cold identity): {statistics.median(colds) * 1000:6.1f} ms, then cached by fingerprint")
    print("uptime at end:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
