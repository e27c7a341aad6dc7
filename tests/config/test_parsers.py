"""The staff REST API and the web forms refuse JSON nested too deeply with a 400 naming the limit."""

import pytest
from django import forms

from routing.forms import SpecField

pytestmark = pytest.mark.django_db


def _nested(depth: int) -> bytes:
    return b'{"name": "deep", "description": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [1_000, 300_000])
@pytest.mark.parametrize("path", ["/api/v1/routes", "/api/v1/providers", "/api/v1/experiments"])
def test_a_deeply_nested_body_to_the_staff_api_is_a_400_naming_the_limit(staff_api, path, depth):
    response = staff_api.post(path, data=_nested(depth), content_type="application/json")

    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["type"] == "parse_error"
    assert "nested deeper than 64 levels" in error["message"]


def test_a_shallow_body_to_the_staff_api_still_parses(staff_api):
    response = staff_api.post("/api/v1/routes", data={"name": "shallow"}, format="json")

    assert response.status_code == 201, response.content


def test_form_and_multipart_bodies_still_parse(staff_api):
    response = staff_api.post("/api/v1/routes", data={"name": "as-a-form"}, format="multipart")

    assert response.status_code == 201, response.content


@pytest.mark.parametrize("depth", [1_000, 300_000])
def test_a_deeply_nested_policy_spec_typed_into_a_form_is_a_validation_error(depth):
    with pytest.raises(forms.ValidationError, match="nested deeper than 64 levels"):
        SpecField().clean("[" * depth + "]" * depth)
