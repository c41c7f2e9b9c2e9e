"""Remote repository URLs (issue 12, findings 5 and 13): the webhooks' destination guard on the address git
actually connects to, and git's errors classified for users with git's whole text in the server log.

Real git against real TCP listeners on 127.0.0.1 that record whether anything connected: a guard that let git
through would show up there.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import string
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import hypothesis.strategies as st
import pytest
from fastapi.testclient import TestClient

from gitproductivity.analysis import fetch, git
from gitproductivity.core import settings
from gitproductivity.core.db import Database
from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.netguard import IPAddress, literal_address
from gitproductivity.repositories import remotes, urls
from tests.analysis.gitrepo import drain
from tests.conftest import require_program
from tests.webhooks.test_guard import LOOPBACK, PRIVATE

#: Unicode spellings of loopback and metadata that IDNA/NFKC turn into IP literals (finding 13).
UNICODE = [
    "①②⑦.0.0.1",
    "127\u30020\u30020\u30021",  # ideographic full stops
    "\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11",  # full-width digits and full stops
    "127\uff610\uff610\uff611",  # half-width ideographic full stops
    "①⑥⑨\u3002②⑤④\u3002①⑥⑨\u3002②⑤④",  # the metadata address
    "%31%32%37.0.0.1",
]


class Listener:
    """A TCP server on loopback that records each connection, then answers `reply` (or does TLS) and closes."""

    def __init__(self, reply: bytes = b"", tls: ssl.SSLContext | None = None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port: int = self.sock.getsockname()[1]
        self.reply, self.tls = reply, tls
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                if self.tls is not None:
                    conn.settimeout(5)
                    with self.tls.wrap_socket(conn, server_side=True):
                        pass
                elif self.reply:
                    conn.sendall(self.reply)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener(b"garbage that is neither TLS nor ssh\r\n")
    yield server
    server.close()


def _urls(host: str, port: int) -> list[str]:
    bracketed = f"[{host.strip('[]')}]" if ":" in host else host
    return [f"https://{bracketed}:{port}/acme/repo.git", f"ssh://git@{bracketed}:{port}/acme/repo.git"]


def _connect_refused(api: TestClient, url: str) -> None:
    resp = api.post("/v1/repositories", json={"url": url})
    assert resp.status_code == 422, (url, resp.text)
    assert resp.json()["error"]["code"] == "validation_error"
    assert resp.json()["error"]["details"][0]["field"] == "url"


@pytest.mark.parametrize("host", [h for h in LOOPBACK + PRIVATE if literal_address(h) is not None] + UNICODE)
def test_ip_literals_in_every_spelling_are_refused_when_connected(api: TestClient, host: str) -> None:
    for url in [*_urls(host, 443), f"git@{host}:acme/repo.git"]:
        if "[" in url and url.startswith("git@"):
            continue  # scp-style IPv6 needs the brackets form already covered by ssh://
        _connect_refused(api, url)
    assert api.get("/v1/repositories").json()["data"] == []


def test_unicode_spellings_of_loopback_are_refused_for_webhooks_too(api: TestClient) -> None:
    for host in UNICODE:
        resp = api.post("/v1/webhooks", json={"url": f"http://{host}:8080/hook", "events": ["*"]})
        assert resp.status_code == 422, (host, resp.text)
    assert api.get("/v1/webhooks").json()["data"] == []


def _analysis_error(api: TestClient, repo_id: str) -> str:
    [analysis] = api.get(f"/v1/repositories/{repo_id}/analyses").json()["data"]
    assert analysis["status"] == "failed", analysis
    return str(analysis["error"])


@pytest.mark.parametrize("scheme", ["https", "ssh"])
def test_a_name_resolving_to_a_refused_address_is_refused_before_git_connects(
    api: TestClient, database: Database, database_url: str, tmp_path: Path, listener: Listener, scheme: str
) -> None:
    settings.configure(database_url=database_url, data_dir=tmp_path / "data", git_timeout=20)
    url = {"https": f"https://localhost:{listener.port}/a.git", "ssh": f"ssh://git@localhost:{listener.port}/a.git"}
    created = api.post("/v1/repositories", json={"url": url[scheme]})
    assert created.status_code == 201, created.text  # a name can only be judged when it is used
    assert drain() == ["failed"]
    error = _analysis_error(api, created.json()["id"])
    assert error == "git clone: " + fetch.MESSAGES[fetch.FetchFailure.REFUSED_BY_POLICY]
    assert listener.connections == 0


@pytest.mark.parametrize("scheme", ["https", "ssh", "scp"])
def test_git_connects_to_the_address_checked_not_a_later_answer(
    tmp_path: Path, listener: Listener, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    """DNS rebinding: the name is resolved once, by the guard, and git is held to that address. `rebind.test`
    resolves nowhere on this machine, so git reaching the listener proves it used the checked address."""
    settings.configure(data_dir=tmp_path / "data", git_timeout=20, git_allowed_networks="127.0.0.0/8")
    asked: list[str] = []

    def zone(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [literal_address("127.0.0.1")]  # type: ignore[list-item]

    monkeypatch.setattr(remotes, "resolve", zone)
    url = {
        "https": f"https://rebind.test:{listener.port}/a.git",
        "ssh": f"ssh://git@rebind.test:{listener.port}/a.git",
        "scp": "git@rebind.test:a.git",  # port 22: nothing listens there; the pinned URL is checked instead
    }[scheme]
    if scheme == "scp":
        pinned = remotes.pin(url)
        assert pinned.url == "git@127.0.0.1:a.git" and "HostKeyAlias=rebind.test" in pinned.env["GIT_SSH_COMMAND"]
        return
    with pytest.raises(git.GitError) as caught:
        fetch.mirror(url, tmp_path / "mirror.git")
    assert asked == ["rebind.test"]
    assert listener.connections >= 1
    assert str(caught.value) == "git clone: " + fetch.MESSAGES[fetch.FetchFailure.UNREACHABLE]

    # The same name answering a refused address gets no connection at all.
    monkeypatch.setattr(
        remotes, "resolve", lambda host, port: [literal_address("127.0.0.1"), literal_address("10.0.0.1")]
    )
    before = listener.connections
    with pytest.raises(git.GitError, match="refused by policy"):
        fetch.mirror(url, tmp_path / "mirror.git")
    assert listener.connections == before


def test_proxies_from_the_environment_are_not_used(
    tmp_path: Path, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would connect to an address nobody checked: git goes to the pinned address, never the proxy."""
    settings.configure(data_dir=tmp_path / "data", git_timeout=20, git_allowed_networks="127.0.0.0/8")
    proxy = Listener(b"HTTP/1.1 200 Connection established\r\n\r\n")
    try:
        for name in ("https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "http_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setattr(remotes, "resolve", lambda host, port: [literal_address("127.0.0.1")])
        with pytest.raises(git.GitError):
            fetch.mirror(f"https://rebind.test:{listener.port}/a.git", tmp_path / "mirror.git")
    finally:
        proxy.close()
    assert listener.connections >= 1 and proxy.connections == 0


def _certificate(tmp_path: Path, name: str) -> ssl.SSLContext:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [require_program("openssl", "openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.slow  # six real clone attempts against listeners, one of them TLS with a fresh openssl certificate
def test_errors_tell_no_open_port_from_a_closed_one_and_echo_no_certificate_names(
    api: TestClient, database: Database, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Allowed to reach loopback, git still tells users only the kind of failure: a closed port, a port that
    speaks garbage and a TLS server with an internal certificate name read the same; git's text is in the log."""
    settings.configure(
        database_url=database_url, data_dir=tmp_path / "data", git_timeout=20, git_allowed_networks="127.0.0.0/8"
    )
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    garbage = Listener(b"SSH-2.0-not really\r\nHTTP/1.1 200 OK\r\n\r\n")
    tls = Listener(tls=_certificate(tmp_path, "vault.internal.corp.example"))
    errors: dict[str, str] = {}
    try:
        with caplog.at_level(logging.WARNING):
            for label, port in (("closed", closed_port), ("garbage", garbage.port), ("tls", tls.port)):
                for url in _urls("127.0.0.1", port):
                    created = api.post("/v1/repositories", json={"url": url})
                    assert created.status_code == 201, created.text
                    assert drain() == ["failed"]
                    errors[f"{label} {url.split(':')[0]}"] = _analysis_error(api, created.json()["id"])
                    api.delete(f"/v1/repositories/{created.json()['id']}")
    finally:
        garbage.close()
        tls.close()
    assert tls.connections >= 1 and garbage.connections >= 2  # git did connect: the failures are real ones
    assert set(errors.values()) == {"git clone: " + fetch.MESSAGES[fetch.FetchFailure.UNREACHABLE]}, errors
    assert "vault.internal" in caplog.text or "certificate" in caplog.text.lower()  # git's own words: the log
    for error in errors.values():
        assert str(closed_port) not in error and "127.0.0.1" not in error and "internal" not in error


def test_ssh_failures_keep_gits_whole_stderr_in_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """ssh puts the cause first and "... and the repository exists." last: the log has every line."""
    settings.configure(data_dir=tmp_path / "data", git_timeout=20, git_allowed_networks="127.0.0.0/8")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with caplog.at_level(logging.WARNING), pytest.raises(git.GitError):
        fetch.mirror(f"ssh://git@127.0.0.1:{port}/a.git", tmp_path / "m.git")
    assert "Connection refused" in caplog.text
    assert "and the repository exists." in caplog.text


@pytest.mark.parametrize(
    ("stderr", "failure"),
    [
        ("remote: Repository not found.\nfatal: repository 'https://h/a/' not found", "not_found"),
        (
            "ERROR: Repository not found.\nfatal: Could not read from remote repository.\n\nPlease make sure you have "
            "the correct access rights\nand the repository exists.",
            "not_found",
        ),
        ("fatal: 'a.git' does not appear to be a git repository", "not_found"),
        ("fatal: Authentication failed for 'https://h/a/'", "authentication_failed"),
        ("fatal: could not read Username for 'https://h': terminal prompts disabled", "authentication_failed"),
        (
            "git@h: Permission denied (publickey).\nfatal: Could not read from remote repository.\n\nPlease make sure "
            "you have the correct access rights\nand the repository exists.",
            "authentication_failed",
        ),
        ("fatal: unable to access 'https://h/a/': Could not resolve host: h", "unreachable"),
        (
            "ssh: connect to host h port 22: Connection refused\nfatal: Could not read from remote repository.",
            "unreachable",
        ),
        (
            "fatal: unable to access 'https://h/': SSL: no alternative certificate subject name matches target host "
            "name 'h'",
            "unreachable",
        ),
        (
            "error: inflate: data stream error (incorrect header check)\nfatal: pack has bad object at offset 12",
            "corrupt",
        ),
        ("fatal: early EOF\nfatal: index-pack failed", "corrupt"),
        ("fatal: unable to access 'https://h/': Failed to connect to h port 443 after 3 ms: Timed out", "timed_out"),
        ("something git never said before", "unreachable"),
    ],
)
def test_git_errors_are_classified(stderr: str, failure: str) -> None:
    assert fetch.classify(git.GitError("git clone: x", 128, stderr)) == failure


@pytest.mark.parametrize(
    ("url", "identity"),
    [
        ("https://GitHub.com:443/Acme/Repo.git/", "https://github.com/Acme/Repo"),
        ("https://bot:token@github.com/Acme/Repo", "https://github.com/Acme/Repo"),
        ("https://github.com:8443/Acme/Repo.git", "https://github.com:8443/Acme/Repo"),
        ("ssh://git@Example.com:22/acme/api.git", "ssh://example.com/acme/api"),
        ("git@example.com:acme/api.git", "ssh://example.com/acme/api"),
        ("ssh://git@[2001:db8::1]:2222/a.git", "ssh://[2001:db8::1]:2222/a"),
        ("https://bücher.example/a.git", "https://xn--bcher-kva.example/a"),
    ],
)
def test_remote_identity_is_normalised(url: str, identity: str) -> None:
    assert remotes.split(url).identity == identity


@pytest.mark.parametrize(
    "url",
    ["https://[e3DNHR/a.git", "ssh://git@[0'(</a.git", "ssh://git@h:99999/a.git", "https://a]b/x.git", "https://[::1"],
)
def test_malformed_urls_are_422_not_500(api: TestClient, url: str) -> None:
    resp = api.post("/v1/repositories", json={"url": url})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["details"][0]["field"] == "url"


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(
    prefix=st.sampled_from(["https://", "ssh://", "ssh://git@[", "https://[", "git@", "file://", "/", "~", ""]),
    rest=st.text(alphabet=st.sampled_from([*string.printable, "①", "⑦", "\u3002", "\uff0e", "[", "]", "@", ":", "%"])),
)
def test_any_url_is_accepted_or_refused_in_words(prefix: str, rest: str) -> None:
    """Whatever is typed, parsing answers a Location or ValidationFailed (a 422), never another exception."""
    with contextlib.suppress(ValidationFailed):
        urls.parse(prefix + rest)
