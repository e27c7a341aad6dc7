"""Every field of every form in the web UI, posted out of range, empty and oversized: never a 5xx.

The forms are found by crawling the staff pages as a superuser (so a form added later is fuzzed too),
each field posted alone with a hostile value while the others keep the values the page filled in.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from experiments.services import experiment_start
from tests.factories import ExperimentFactory, ModelFactory, PolicyVersionFactory, RouteFactory

HOSTILE = [
    "",
    "-1",
    "0",
    "2",
    "1e309",
    "nan",
    "-inf",
    "99999999999999999999999999",
    "x" * 5000,
    "{",
    "[]",
    "\x00",
]
SKIP = ("/admin/", "/api/", "/static/", "/dashboard/plotly-", "/favicon")
MAX_PAGES = 80


class FormParser(HTMLParser):
    """The links of a page and its POST forms, each with its fields' names and current values."""

    def __init__(self):
        super().__init__()
        self.links, self.forms, self._form, self._select, self._textarea = [], [], None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self._form = {"action": attrs.get("action") or "", "fields": {}}
            self.forms.append(self._form)
        elif self._form is not None and tag == "input" and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind not in {"checkbox", "radio"} or "checked" in attrs:
                self._form["fields"].setdefault(attrs["name"], attrs.get("value") or "")
            else:
                self._form["fields"].setdefault(attrs["name"], None)
        elif self._form is not None and tag == "select" and attrs.get("name"):
            self._select = attrs["name"]
            self._form["fields"].setdefault(self._select, "")
        elif self._select and tag == "option":
            if not self._form["fields"][self._select] or "selected" in attrs:
                self._form["fields"][self._select] = attrs.get("value") or ""
        elif self._form is not None and tag == "textarea" and attrs.get("name"):
            self._textarea = attrs["name"]
            self._form["fields"][self._textarea] = ""

    def handle_data(self, data):
        if self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _crawl(client: Client, start: list[str]) -> dict[str, list[dict]]:
    seen, queue, forms = set(), list(start), {}
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen or path.startswith(SKIP):
            continue
        seen.add(path)
        response = client.get(path)
        assert response.status_code < 500, f"GET {path} gave {response.status_code}"
        if "text/html" not in response.get("Content-Type", ""):
            continue
        parser = FormParser()
        parser.feed(response.content.decode())
        for href in parser.links:
            target = urlsplit(urljoin(path, href))
            if not target.netloc and target.path.startswith("/"):
                queue.append(target.path + (f"?{target.query}" if target.query else ""))
        for form in parser.forms:
            action = urlsplit(urljoin(path, form["action"] or path))
            forms.setdefault(action.path + (f"?{action.query}" if action.query else ""), []).append(form)
    return forms


@pytest.fixture
def world(live_route):
    """A route with policies, a key, a draft and a running experiment, a disabled model."""
    route = live_route.route
    control = route.live_policy
    treatment = PolicyVersionFactory(route=route, name="cheap-first")
    ExperimentFactory(route=route, control=control, treatment=treatment, name="a-draft")
    other = RouteFactory(name="other-route")
    running = ExperimentFactory(
        route=other,
        control=PolicyVersionFactory(route=other, name="premium"),
        treatment=PolicyVersionFactory(route=other, name="cheap"),
        name="a-running-one",
    )
    experiment_start(experiment=running)
    ModelFactory(enabled=False)
    return route


@pytest.mark.django_db(transaction=True)
def test_every_field_of_every_form_refuses_hostile_values_without_a_server_error(world, django_user_model):
    admin = django_user_model.objects.create_superuser("fuzzer", "fuzz@example.com", "pw-for-tests-only")
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    forms = _crawl(client, ["/routes/", "/experiments/", "/experiments/new", "/registry/", "/dashboard/"])
    assert len(forms) >= 8, f"the crawl found too few forms: {sorted(forms)}"
    failures, posted = [], 0
    for action, page_forms in forms.items():
        for form in page_forms:
            base = {name: value for name, value in form["fields"].items() if value is not None}
            for name in form["fields"]:
                if name == "csrfmiddlewaretoken":
                    continue
                for value in HOSTILE:
                    response = client.post(action, {**base, name: value})
                    posted += 1
                    if response.status_code >= 500:
                        failures.append(f"{action} {name}={value[:20]!r}: {response.status_code}")
    assert not failures, "\n".join(failures[:40])
    assert posted > 200


@pytest.mark.django_db
def test_a_body_over_the_limit_gets_a_413_page_that_says_so(staff_user):
    client = Client(raise_request_exception=False)
    client.force_login(staff_user)
    too_big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client.post("/routes/", {"name": "r", "description": too_big})
    assert response.status_code == 413
    assert b"Request too large" in response.content
    assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes".encode() in response.content
    api = client.post("/api/v1/routes", data=too_big, content_type="application/json")
    assert api.status_code == 413
    assert api.json()["error"]["type"] == "request_too_large"
