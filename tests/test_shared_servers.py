"""No test stops or restarts the machine's shared PostgreSQL or Redis: a test that needs a server to
die starts its own (the PostgreSQL of tests/e2e/test_call_durability.py, the Redis of
tests/routing/gateway/test_spool.py)."""

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# commands that stop or restart a system-wide server
STOPPING = re.compile(
    r"pg_ctlcluster|systemctl\s|service\s+(postgresql|redis)|\.shutdown\(|SHUTDOWN|DEBUG SLEEP"
)


def test_no_test_stops_the_shared_postgresql_or_redis():
    offenders = [
        f"{path.relative_to(TESTS)}:{number}: {line.strip()}"
        for path in TESTS.rglob("*.py")
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if STOPPING.search(line)
    ]
    assert offenders == []
