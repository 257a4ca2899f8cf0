"""A customer's inbox for the demo and the benchmarks: an SMTP server that keeps what it is sent.

The stores are emulated; so is the other end of the e-mail. `start_mailbox()` listens on
localhost (aiosmtpd), accepts every message, keeps it in memory with the moment it arrived and,
given a directory, writes each one there as an `.eml` file a mail client opens.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO: a line per recipient, which is noise (and addresses).
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Received:
    at: float  # time.perf_counter() when the message was accepted
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def header(self, name: str) -> str | None:
        value = self.message.get(name)
        return None if value is None else str(value)


@dataclass
class Mailbox:
    """Everything received so far; thread-safe."""

    directory: Path | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.perf_counter()
        raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        parsed = message_from_bytes(raw, policy=policy.default)
        item = Received(
            at,
            envelope.mail_from,
            tuple(envelope.rcpt_tos),
            parsed,  # type: ignore[arg-type]
        )
        with self.lock:
            self.received.append(item)
            number = len(self.received)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / f"{number:05d}.eml").write_bytes(raw)
        return "250 Message accepted"

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)


@dataclass
class RunningMailbox:
    mailbox: Mailbox
    host: str
    port: int
    controller: Controller

    @property
    def url(self) -> str:
        """What `SMTP_URL` should say to send here (plain SMTP: it is local)."""
        return f"smtp://{self.host}:{self.port}?starttls=never"

    def stop(self) -> None:
        self.controller.stop()


def start_mailbox(
    host: str = "127.0.0.1", port: int = 0, directory: Path | None = None
) -> RunningMailbox:
    """`port` 0: a free one (aiosmtpd itself needs the number before it listens)."""
    if port == 0:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    mailbox = Mailbox(directory)
    controller = Controller(mailbox, hostname=host, port=port)
    controller.start()
    return RunningMailbox(mailbox, host, port, controller)
