"""kube-apiserver's audit log: ``--audit-policy-file`` says which requests are recorded
and how much of them, ``--audit-log-path`` where the audit.k8s.io/v1 Events go.

- :mod:`.policy`: the Policy file, parsed, checked and evaluated per request;
- :mod:`.event`: one request's Event, rendered per stage as Kubernetes writes it;
- :mod:`.sink`: the log file (rotated as kube's lumberjack does) or stdout, written
  by a background thread;
- :mod:`.auditor`: the stages of a request, driven by the middleware.
"""

from __future__ import annotations

from pathlib import Path

from kybernetes.apiserver.audit.auditor import Auditor, audit_id
from kybernetes.apiserver.audit.policy import Policy, PolicyError, load_policy
from kybernetes.apiserver.audit.sink import LogSink

__all__ = ["Auditor", "LogSink", "Policy", "PolicyError", "audit_id", "load_policy",
           "open_auditor"]


def open_auditor(policy: Policy | None, log_path: str, *, max_size_mb: int = 0,
                 max_backups: int = 0, max_age_days: int = 0) -> Auditor | None:
    """The auditor the flags describe, or None when nothing is to be recorded.

    As kube-apiserver: a log path makes the file even without a policy, but with no
    policy no event is written. OSError when the file cannot be made.
    """
    if not log_path:
        return None
    if policy is None:
        if log_path != "-":
            _ensure_file(Path(log_path))
        return None
    return Auditor(policy, LogSink.open(log_path, max_size_mb=max_size_mb,
                                        max_backups=max_backups, max_age_days=max_age_days))


def _ensure_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600, exist_ok=True)
