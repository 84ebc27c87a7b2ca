"""Log lines: ids of the post being handled on every line, JSON on request, secrets redacted."""

from __future__ import annotations

import json
import logging

from dastbot.kernel.logs import (
    ContextFilter,
    JsonFormatter,
    RedactFilter,
    TextFormatter,
    log_context,
)


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("dastbot.test", logging.INFO, __file__, 1, msg, args, None)


def test_text_lines_carry_the_ids_of_the_post_being_handled() -> None:
    with log_context("p123", "t9"):
        record = _record("answered entry=%s", "x")
        ContextFilter().filter(record)
    line = TextFormatter().format(record)
    assert line.endswith("dastbot.test: answered entry=x post_id=p123 thread_id=t9")
    outside = _record("idle")
    ContextFilter().filter(outside)
    assert "post_id" not in TextFormatter().format(outside)


def test_multi_line_messages_stay_on_one_line() -> None:
    record = _record("first\nsecond")
    ContextFilter().filter(record)
    assert "\n" not in TextFormatter().format(record)


def test_json_lines_are_objects_with_the_ids() -> None:
    with log_context("p1", "t1"):
        record = _record("sent key=%s", "answer:t1")
        ContextFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "sent key=answer:t1"
    assert (entry["post_id"], entry["thread_id"], entry["level"]) == ("p1", "t1", "INFO")


def test_secrets_are_redacted_from_messages_arguments_and_tracebacks() -> None:
    secret = "tok-4f9a8b7c6d5e"
    redact = RedactFilter([secret, "", "abc"])
    record = _record("login with %s failed", secret)
    redact.filter(record)
    assert record.getMessage() == "login with *** failed"
    try:
        raise ValueError(f"bad token {secret}")
    except ValueError:
        import sys

        failing = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    redact.filter(failing)
    text = TextFormatter().format(failing)
    assert secret not in text and "bad token ***" in text


def test_configure_logging_quiets_the_websocket_frame_logger() -> None:
    from dastbot.kernel.logs import configure_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging(logging.DEBUG, "text", ["secret-token-123"])
        assert logging.getLogger("websockets").getEffectiveLevel() >= logging.INFO
        assert logging.getLogger("mattermostdriver").getEffectiveLevel() == logging.CRITICAL
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
