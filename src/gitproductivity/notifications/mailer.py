"""Sending e-mail, behind a small Protocol so the transport is chosen by settings in one place."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from gitproductivity.core.settings import Settings

log = logging.getLogger(__name__)


class Mailer(Protocol):
    def send(self, *, to: list[str], subject: str, body: str) -> None: ...


class SmtpMailer:
    """Plain SMTP to the configured server (optionally STARTTLS or implicit TLS, optionally a login)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("SMTP is not configured (GITPRODUCTIVITY_SMTP_HOST)")
        self.settings = settings

    def send(self, *, to: list[str], subject: str, body: str) -> None:
        s = self.settings
        assert s.smtp_host is not None
        message = EmailMessage()
        message["From"] = s.smtp_from
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message.set_content(body)
        smtp_class = smtplib.SMTP_SSL if s.smtp_ssl else smtplib.SMTP
        with smtp_class(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout) as smtp:
            if s.smtp_starttls and not s.smtp_ssl:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                smtp.login(s.smtp_username, password)
            smtp.send_message(message)


def get_mailer(settings: Settings) -> Mailer | None:
    """The configured mailer, or None when e-mail is off (no SMTP host)."""
    return SmtpMailer(settings) if settings.smtp_host else None
