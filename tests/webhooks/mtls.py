"""A test PKI made by the openssl binary (a CA, a server certificate for localhost, client certificates it signs) and
an HTTPS receiver on 127.0.0.1 that requires a client certificate from that CA and records whose it was."""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests.conftest import require_program
from tests.netutil import Receiver


def openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run([require_program("openssl", "openssl"), *map(str, args)], check=True, capture_output=True, cwd=cwd)


@dataclass
class Pki:
    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    def issue(self, name: str, subject: str, *, days: int = 2, server: bool = False, curve: bool = False) -> Path:
        """A key and a certificate signed by the CA: `<name>.pem` and `<name>-key.pem` (EC P-256 or RSA 2048)."""
        key = self.root / f"{name}-key.pem"
        if curve:
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key, cwd=self.root)
        else:
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key, cwd=self.root)
        openssl("req", "-new", "-key", key, "-subj", subject, "-out", f"{name}.csr", cwd=self.root)
        ext = self.root / f"{name}.ext"
        ext.write_text(
            "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n" if server else "extendedKeyUsage=clientAuth\n"
        )
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", self.ca, "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", str(days), "-extfile", ext, "-out", f"{name}.pem", cwd=self.root,
        )  # fmt: skip
        return self.root / f"{name}.pem"

    def pair(self, name: str) -> dict[str, str]:
        """The API's `client_certificate` body for an issued name."""
        return {
            "certificate": (self.root / f"{name}.pem").read_text(),
            "private_key": (self.root / f"{name}-key.pem").read_text(),
        }

    def fingerprint(self, name: str) -> str:
        der = ssl.PEM_cert_to_DER_cert((self.root / f"{name}.pem").read_text())
        import hashlib

        return hashlib.sha256(der).hexdigest()


def make_pki(root: Path) -> Pki:
    root.mkdir(parents=True, exist_ok=True)
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=GitProductivity Test CA",
        "-keyout", "ca-key.pem", "-out", "ca.pem", cwd=root,
    )  # fmt: skip
    pki = Pki(root)
    pki.issue("server", "/CN=localhost", server=True)
    pki.issue("client", "/CN=gp-client/O=GitProductivity Tests", curve=True)
    return pki


@dataclass
class MtlsReceiver(Receiver):
    """`Receiver` over TLS that requires a client certificate signed by the test CA; `subjects` lists, per request,
    the common name of the certificate the client presented."""

    subjects: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        peer = request.transport.get_extra_info("peercert") or {}
        names = [value for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"]
        self.subjects.append(names[0] if names else "")
        return await super().handle(request)


def mtls_receiver(pki: Pki) -> MtlsReceiver:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.root / "server.pem", pki.root / "server-key.pem")
    context.load_verify_locations(pki.ca)
    context.verify_mode = ssl.CERT_REQUIRED
    r = MtlsReceiver(ssl_context=context)
    r.start()
    return r
