"""Every test requests the project's own URLs: a test-local URL configuration could hide a route that
config/urls.py lost."""

import re
from pathlib import Path

LOCAL_URLCONF = re.compile(r"pytest\.mark\.urls|ROOT_URLCONF|^urlpatterns\s*=", re.MULTILINE)


def test_no_test_swaps_in_its_own_url_configuration():
    tests = Path(__file__).parent
    offenders = [
        str(path.relative_to(tests))
        for path in sorted(tests.rglob("*.py"))
        if path.name != Path(__file__).name and LOCAL_URLCONF.search(path.read_text())
    ]
    assert offenders == []
