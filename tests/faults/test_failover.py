"""Fault injection (issue 14): one `kyb up --servers 3 --nodes 1` (fake runtime: the
control plane is under test, an RC of several pods costs nothing) under load, every
fault of tests/support/failover.py one after another, each healed before the next.

One test runs them all: the faults share one cluster, and pytest-xdist would hand
separate tests of this module to separate workers (two clusters). A fault whose
checks fail fails the test, naming every such fault; the JSON report goes to the
test's tmp dir and to $KYB_FAULT_REPORT.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support.etcd import etcd_available
from tests.support.failover import FAULTS, run_under_load

pytestmark = [pytest.mark.faults, pytest.mark.etcd, pytest.mark.root,
              pytest.mark.timeout(600),
              pytest.mark.skipif(not etcd_available(), reason="etcd is not installed"),
              pytest.mark.skipif(os.geteuid() != 0,
                                 reason="namespaces, iptables and tmpfs need root")]

def test_faults_under_load(tmp_path: Path) -> None:
    started = time.monotonic()
    paths = [tmp_path / "fault-report.json"]
    if os.environ.get("KYB_FAULT_REPORT"):
        paths.append(Path(os.environ["KYB_FAULT_REPORT"]))
    records, doc, lost = run_under_load(tmp_path / "cluster", list(FAULTS), started=started,
                                        paths=paths, each=print)
    print(f"fault report ({paths[-1]}): {doc}")
    assert not lost, f"acknowledged writes not readable at the end: {lost[:20]}"
    failed = {r["fault"]: r["problems"] for r in records if r["problems"]}
    assert not failed, failed
