"""A fake SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it receives.

    with FakeSmtp(auth=("user", "secret")) as smtp:
        channel = SmtpChannel(host="127.0.0.1", port=smtp.port, security="none", ...)
        smtp.wait_for(1)[0].message["Subject"]

    cert = self_signed_cert(tmp_path)          # None when no way to make one is at hand
    with FakeSmtp(tls_cert=cert) as smtp:      # offers STARTTLS (and requires it)
        channel = SmtpChannel(..., security="starttls", ssl_context=client_context(cert))

Modes: "ok"; "reject" (550 for the recipient); "fail" (451 after DATA); "hang" (DATA is not
answered until `release()` or `stop()`).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Self, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.providers.server import Mode


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage
    login: str | None  # who authenticated, if anyone
    tls: bool  # whether the session was encrypted


class FakeSmtp:
    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        tls_cert: tuple[Path, Path] | None = None,
    ) -> None:
        self.auth = auth
        self.tls_cert = tls_cert
        self.mode: Mode = "ok"
        self.messages: list[Received] = []
        self.failed_logins = 0
        self._cond = threading.Condition()
        self._gate = threading.Event()
        self._controller: _Controller | None = None

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("the fake SMTP server is not running")
        return self._controller.port

    def start(self) -> Self:
        kwargs: dict[str, Any] = {}
        if self.auth is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = self.tls_cert is not None
            kwargs["auth_required"] = True
        if self.tls_cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls_cert)
            kwargs["tls_context"] = context
            kwargs["require_starttls"] = True
        self._gate = threading.Event()
        self._controller = _Controller(_Handler(self), **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._gate.set()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def release(self) -> None:
        self._gate.set()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Blocks until at least `count` messages were accepted."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(
                    f"waited {timeout}s for {count} messages; got {len(self.messages)}"
                )
            return list(self.messages)

    def _authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and self.auth is not None:
            login, password = data.login.decode(), data.password.decode()
            if (login, password) == self.auth:
                return AuthResult(success=True, auth_data=login)
        with self._cond:
            self.failed_logins += 1
        return AuthResult(success=False, handled=False)

    def _record(self, received: Received) -> None:
        with self._cond:
            self.messages.append(received)
            self._cond.notify_all()


class _Handler:
    def __init__(self, fake: FakeSmtp) -> None:
        self.fake = fake

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if self.fake.mode == "reject":
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.fake.mode == "hang":
            gate = self.fake._gate
            await asyncio.get_running_loop().run_in_executor(None, gate.wait)
            return "451 4.3.0 Server shutting down"
        if self.fake.mode == "fail":
            return "451 4.3.0 Temporary local problem, try again later"
        data = cast(bytes, envelope.original_content or envelope.content or b"")
        message: EmailMessage = email.message_from_bytes(data, policy=email.policy.default)
        auth = session.auth_data
        self.fake._record(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                data=data,
                message=message,
                login=auth if isinstance(auth, str) else None,
                tls=session.ssl is not None,
            )
        )
        return "250 2.0.0 Message accepted for delivery"


class _Controller(Controller):
    """An aiosmtpd controller on a port the system picks (bound before the server starts, so
    two tests never race for one port)."""

    def __init__(self, handler: _Handler, **kwargs: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        super().__init__(
            handler, hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs
        )

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        factory = cast(Callable[[], asyncio.BaseProtocol], self._factory_invoker)
        return self.loop.create_server(factory, sock=self._socket, ssl=self.ssl_context)


def self_signed_cert(directory: Path) -> tuple[Path, Path] | None:
    """A certificate and key for 127.0.0.1 and localhost, made with the `cryptography`
    package when it is installed, else with the `openssl` command; None when neither is."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        _cert_with_cryptography(cert, key)
        return cert, key
    except ImportError:
        pass
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _cert_with_cryptography(cert_path: Path, key_path: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives import hashes, serialization  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives.asymmetric import ec  # type: ignore[import-not-found, unused-ignore]
    from cryptography.x509.oid import NameOID  # type: ignore[import-not-found, unused-ignore]

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def client_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts exactly this self-signed certificate."""
    return ssl.create_default_context(cafile=str(cert[0]))
