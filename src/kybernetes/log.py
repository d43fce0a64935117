"""Structured, quiet-by-default logging shared by every component.

Lines are logfmt (`ts=… level=… component=… msg="…" key=value`), one event per line,
so that `DIR/logs/*.log` can be grepped and parsed. INFO by default; `-v` gives DEBUG.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

_SKIPPED = {*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message", "asctime"}


def _quote(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [f"ts={ts}.{int(record.msecs):03d}Z", f"level={record.levelname.lower()}",
                 f"logger={record.name}", f"msg={_quote(record.getMessage())}"]
        for key, value in record.__dict__.items():
            if key not in _SKIPPED and not key.startswith("_"):
                parts.append(f"{key}={_quote(value)}")
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


def setup(verbosity: int = 0, stream: Any = None) -> None:
    """Configure the root logger once for a component process."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbosity > 0 else logging.INFO)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
