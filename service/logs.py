"""Log lines a client cannot forge: every message is escaped where it is formatted, whoever logged it.

Request paths, model and input names, and error messages carry what a client sent; a decoded `%0a`
in a URL would otherwise start a new, fake log line. Control characters (C0, DEL, C1, the Unicode
line and paragraph separators) are written as escapes, and very long messages are cut. Tracebacks,
which the server writes itself, keep their lines. The access log is JSON, escaped by json.dumps.
"""
from __future__ import annotations

import logging
import re
import time

FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
MAX_MESSAGE = 4_000  # characters of one message; the rest is cut
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: str) -> str:
    text = CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    if len(text) > MAX_MESSAGE:
        text = f"{text[:MAX_MESSAGE]}... (cut: {len(text)} characters)"
    return text


class EscapingFormatter(logging.Formatter):
    _second: tuple[int, str] = (-1, "")  # the last second written, and how

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """logging's own, with the date and time formatted once a second (an access log line each
        request made strftime a tenth of the line's cost)."""
        if datefmt or self.converter is not time.localtime:
            return super().formatTime(record, datefmt)
        second, written = self._second
        if second != int(record.created):
            second = int(record.created)
            written = time.strftime(self.default_time_format, time.localtime(record.created))
            self._second = second, written
        return self.default_msec_format % (written, record.msecs)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape(record.message)
        return super().formatMessage(record)


def configure(level: str) -> None:
    """One escaping handler on the root logger (added once, however many apps a process builds)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, EscapingFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(EscapingFormatter(FORMAT))
        root.addHandler(handler)
        root.setLevel(level)
    for name in ("axon", "service"):  # the request loggers, and the modules' own (service.registry, ...)
        logging.getLogger(name).setLevel(level)
