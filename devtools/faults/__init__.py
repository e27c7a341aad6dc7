"""Fault drills: routelab's gateway under open-loop traffic while its own PostgreSQL or Redis is stopped,
killed and restarted, then every call row counted (tests/e2e/test_redis_faults.py, bench/faults.py)."""
