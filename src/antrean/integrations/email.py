"""E-mail over SMTP with the standard library: plain text with an HTML alternative, and
attachments such as a booking's calendar file.

One connection per message: the outbox sends a few messages a minute by e-mail, and a fresh
connection never meets a server that dropped an idle one. Nothing is shared between sends, so
worker threads may call `send` at the same time."""

from __future__ import annotations

import html
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Literal

from antrean.domain.notifications import Attachment, Medium, OutgoingMessage, Receipt, SendFailure

# A login or a sender the server refuses fails every message alike until someone fixes the
# settings: try again every five minutes rather than failing each message for good.
CONFIG_RETRY_AFTER = 300.0


class SmtpChannel:
    transport = "smtp"
    medium = Medium.EMAIL

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: Literal["starttls", "tls", "none"] = "starttls",
        username: str | None = None,
        password: str | None = None,
        sender: str,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.sender = sender
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.sender_address = parseaddr(sender)[1] or sender
        self.domain = self.sender_address.rpartition("@")[2] or "localhost"

    def message_id(self, outbox_id: int) -> str:
        """The same for every try of one outbox message, so a resend is recognisable."""
        return f"<antrean-{outbox_id}@{self.domain}>"

    def compose(self, message: OutgoingMessage) -> EmailMessage:
        if "@" not in message.to:
            raise SendFailure("invalid_address", repr(message.to)[:60], permanent=True)
        mail = EmailMessage()
        try:
            mail["From"] = self.sender
            mail["To"] = message.to
            mail["Subject"] = message.subject
            mail["Date"] = format_datetime(datetime.now(UTC))
            mail["Message-ID"] = self.message_id(message.id)
        except (ValueError, TypeError) as exc:  # a line break or an unreadable address
            raise SendFailure("invalid_address", str(exc), permanent=True) from exc
        mail.set_content(message.text)
        mail.add_alternative(message.html or text_as_html(message.text), subtype="html")
        for attachment in message.attachments:
            attach(mail, attachment)
        return mail

    def send(self, message: OutgoingMessage) -> Receipt:
        mail = self.compose(message)
        try:
            with self._connect() as smtp:
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail, from_addr=self.sender_address, to_addrs=[message.to])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{code} {text!r}" for code, text in exc.recipients.values())
            permanent = all(code >= 500 for code in codes)
            raise SendFailure(
                f"smtp_{max(codes, default=550)}", detail, permanent=permanent
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise SendFailure("auth", _said(exc), retry_after=CONFIG_RETRY_AFTER) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise SendFailure(
                f"smtp_{exc.smtp_code}", _said(exc), retry_after=CONFIG_RETRY_AFTER
            ) from exc
        except smtplib.SMTPResponseException as exc:
            code = exc.smtp_code
            raise SendFailure(f"smtp_{code}", _said(exc), permanent=500 <= code < 600) from exc
        except smtplib.SMTPNotSupportedError as exc:  # no STARTTLS, no AUTH: the settings
            raise SendFailure("tls", str(exc), retry_after=CONFIG_RETRY_AFTER) from exc
        except ssl.SSLCertVerificationError as exc:
            raise SendFailure("tls", str(exc), retry_after=CONFIG_RETRY_AFTER) from exc
        except smtplib.SMTPServerDisconnected as exc:
            # smtplib reports a read that timed out as a disconnection.
            kind = "timeout" if isinstance(exc.__context__, TimeoutError) else "connection"
            raise SendFailure(kind, str(exc)) from exc
        except TimeoutError as exc:  # socket.timeout is TimeoutError
            raise SendFailure("timeout", str(exc) or "timed out") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailure("connection", str(exc) or type(exc).__name__) from exc
        return Receipt(provider_id=mail["Message-ID"])

    def _connect(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.ehlo()
                smtp.starttls(context=context)
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        """Nothing is kept open between messages."""


def attach(mail: EmailMessage, attachment: Attachment) -> None:
    """An attachment with its content type's parameters kept (`text/calendar; method=REQUEST`
    is what makes a mail client offer to add the event)."""
    kind, *params = (part.strip() for part in attachment.content_type.split(";"))
    maintype, _, subtype = kind.partition("/")
    extra: dict[str, str] = {}
    for param in params:
        name, _, value = param.partition("=")
        if name and value:
            extra[name.strip().lower()] = value.strip().strip('"')
    mail.add_attachment(
        attachment.content,
        maintype=maintype or "application",
        subtype=subtype or "octet-stream",
        filename=attachment.filename,
        params=extra,
    )


def text_as_html(text: str) -> str:
    """A minimal HTML version of a plain text: escaped, paragraphs and line breaks kept."""
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    body = "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
    return (
        f'<!doctype html>\n<html><body style="font-family: sans-serif">\n{body}\n</body></html>\n'
    )


def _said(exc: smtplib.SMTPResponseException) -> str:
    said = exc.smtp_error
    return said.decode(errors="replace") if isinstance(said, bytes) else str(said)
