"""Logging: one line per event, the post and thread being handled on every line, text or JSON,
and known secrets redacted from whatever a library might print.

The router sets the ids with ``log_context`` while it handles a post, a reaction, a click or a
command; every record logged meanwhile (including the adapter's send and retry lines) carries them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_POST: contextvars.ContextVar[str] = contextvars.ContextVar("post_id", default="")
_THREAD: contextvars.ContextVar[str] = contextvars.ContextVar("thread_id", default="")
REDACTED = "***"


@contextmanager
def log_context(post_id: str = "", thread_id: str = "") -> Iterator[None]:
    post_token = _POST.set(post_id)
    thread_token = _THREAD.set(thread_id)
    try:
        yield
    finally:
        _POST.reset(post_token)
        _THREAD.reset(thread_token)


class ContextFilter(logging.Filter):
    """Adds ``post_id`` and ``thread_id`` (possibly empty) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.post_id = getattr(record, "post_id", "") or _POST.get()
        record.thread_id = getattr(record, "thread_id", "") or _THREAD.get()
        return True


class RedactFilter(logging.Filter):
    """Replaces every occurrence of a secret in the formatted message and its arguments."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self.redact(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [
            f"{name}={value}"
            for name in ("post_id", "thread_id")
            if (value := getattr(record, name, "")) and f"{name}={value}" not in line
        ]
        line = " ".join([line, *ids]) if ids else line
        return line.replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("post_id", "thread_id"):
            value = getattr(record, name, "")
            if value:
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int, fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Root logging to stderr; quiet libraries that are chatty or print what they send."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # The websocket library logs every frame at DEBUG, the authentication challenge included.
    logging.getLogger("websockets").setLevel(max(level, logging.INFO))
    logging.getLogger("urllib3").setLevel(max(level, logging.INFO))
    # The driver logs every HTTP error itself; the adapter logs them classified, once.
    logging.getLogger("mattermostdriver").setLevel(logging.CRITICAL)
