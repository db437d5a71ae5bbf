"""Keep secrets out of every log line, whoever writes it.

kafka-python logs whole SASL frames (user and password) at DEBUG level; a user who turns DEBUG
on to chase a connection problem must not find the password in the log. :func:`redact_secrets`
puts a :class:`SecretFilter` on the loggers of kafka-python and driftstream, so a record is
cleaned before any handler (console, file, pytest, Jupyter) sees it.

Examples
--------
>>> import logging
>>> f = SecretFilter(["s3cr3t-pw"])
>>> record = logging.LogRecord("kafka.conn", logging.DEBUG, __file__, 1, "auth %r", (b"\\x00user\\x00s3cr3t-pw",), None)
>>> f.filter(record), record.getMessage()
(True, "auth b'\\\\x00user\\\\x00***'")
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MIN_SECRET_LENGTH = 4  # shorter strings would blank out ordinary words
LOGGER_PREFIXES = ("kafka", "driftstream", "distributed", "bokeh", "tornado")


class SecretFilter(logging.Filter):
    """Replaces each known secret in a record's message with ``***``; never drops a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, ()
        if record.exc_text:
            for secret in self.secrets:
                record.exc_text = record.exc_text.replace(secret, "***")
        return True


_filter = SecretFilter()


def redact_secrets(secrets: Iterable[str]) -> SecretFilter:
    """Hide ``secrets`` in the records of every kafka-python and driftstream logger.

    Installs one shared filter on each such logger existing now (kafka-python creates its
    loggers when imported, so it is imported first) and on their parents.
    """
    import kafka  # noqa: F401 - creates kafka-python's module loggers

    _filter.add(secrets)
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in LOGGER_PREFIXES]
    for name in [*LOGGER_PREFIXES, *names]:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
    return _filter
