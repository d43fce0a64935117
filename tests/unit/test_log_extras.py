"""No log call passes an `extra` key that LogRecord already has: logging raises
KeyError for those at run time (a controller's sync then fails and retries)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "kybernetes"
RESERVED = set(vars(logging.LogRecord("n", 0, "p", 0, "m", None, None))) | {"message",
                                                                            "asctime"}


def test_log_extras_do_not_overwrite_log_record_attributes() -> None:
    clashes = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                    keys = {k.value for k in keyword.value.keys
                            if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                    clashes += [f"{path.relative_to(SRC)}:{node.lineno}: {k}"
                                for k in sorted(keys & RESERVED)]
    assert not clashes
