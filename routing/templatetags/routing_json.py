"""`{{ spec|json_pretty }}`: a policy spec as the indented JSON a person can edit and publish unchanged."""

from __future__ import annotations

import json

from django import template

register = template.Library()


@register.filter
def json_pretty(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
