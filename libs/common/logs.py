"""One logging set-up for every service: ``LOG_LEVEL``, and ``LOG_FORMAT=json`` for JSON lines.

JSON lines carry ``time``, ``level``, ``service``, ``logger``, ``message`` and, when the
code gave them (``extra=``), the event, client and batch identifiers (``client_id``,
``event_id``, ``source`` = topic/partition/offset, ``stage``, ``error_class``, ``consumer``),
which is what log stacks (Loki, Elasticsearch, CloudWatch) index.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

#: ``extra=`` keys copied into JSON lines.
CONTEXT_FIELDS = ("client_id", "event_id", "source", "stage", "error_class", "consumer", "batch")


class JsonLines(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value not in (None, ""):
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(service: str) -> None:
    handler = logging.StreamHandler()
    if os.environ.get("LOG_FORMAT", "text").lower() == "json":
        handler.setFormatter(JsonLines(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), handlers=[handler])
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
