"""No secret is in the repository or the database: providers name the variable that holds their key."""

import re
import subprocess
from pathlib import Path

import pytest
from django.db import connection

from routing import services

ROOT = Path(__file__).resolve().parents[1]
SECRET = re.compile(r"sk-(ant-)?[A-Za-z0-9_-]{24,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}")


def test_no_tracked_file_holds_a_key():
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    if not files:
        pytest.skip("not a git checkout")
    leaks = [
        name
        for name in files
        if (ROOT / name).is_file() and SECRET.search((ROOT / name).read_text(errors="ignore"))
    ]
    assert leaks == []


@pytest.mark.django_db
def test_a_providers_key_stays_in_the_environment_and_out_of_the_database(monkeypatch, staff_api):
    key = "sk-test-" + "x" * 40
    monkeypatch.setenv("OPENAI_API_KEY", key)
    provider = services.provider_create(
        name="openai", kind="openai", base_url="https://api.openai.com/v1", api_key_env="OPENAI_API_KEY"
    )
    assert provider.api_key == key
    body = staff_api.get(f"/api/v1/providers/{provider.id}").json()
    assert body["api_key_configured"] is True and key not in str(body)
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(p)::text FROM routing_provider p")
        rows = [row[0] for row in cursor.fetchall()]
    assert rows and all(key not in row for row in rows)
