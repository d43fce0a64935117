"""Failover times of a `kyb up --servers 3` cluster: every fault of the suite in
tests/faults/ (SIGKILL of the etcd leader, an API server, the leading scheduler and
controller-manager; SIGSTOP of a whole server host for 30 s; a network partition of
one host; a full disk for one etcd member), one after another under a writer's load.

Run from the repo root as root: ``.venv/bin/python bench/failover.py [--keep-dir D]
[--only NAME ...]``. Prints one JSON object: per fault the longest gap between
acknowledged writes, seconds to a new leader per role that changed, writes
acknowledged and lost, the most RC pods at once and any failed check; with the load
average at the end. The same code as the suite (tests/support/failover.py).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support

from bench import harness  # noqa: E402
from tests.support.failover import FAULTS, run_under_load  # noqa: E402


def main() -> None:
    parser = harness.parser(__doc__)
    by_name = {f.name: f for f in FAULTS}
    parser.add_argument("--only", nargs="*", choices=list(by_name),
                        help="run these faults in this order (default: all)")
    args = parser.parse_args()
    faults = [by_name[n] for n in args.only] if args.only else list(FAULTS)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kyb-failover-") as tmp:
        data_dir = Path(args.keep_dir or tmp).resolve()
        _, doc, lost = run_under_load(
            data_dir / "cluster", faults, started=started, paths=[],
            each=lambda record: print(f"fault {record['fault']} done", file=sys.stderr,
                                      flush=True))
        doc["writes_lost_at_the_end"] = len(lost)
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
