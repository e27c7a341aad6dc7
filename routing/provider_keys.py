"""Which environment variables may hold a provider's key, and reading them.

A provider's key goes as a credential to the provider's base URL, which whoever registers the provider
chooses. So `api_key_env` may only name a variable matching PROVIDER_KEY_ENV_ALLOWLIST, and never one of
routelab's own: a Django setting, a variable the settings read (SECRET_KEY, DATABASE_URL, ...) or one of
the infrastructure families below, whatever the allowlist says. Rows stored before the rule are checked
again each time a key is read, so their variable is never read.
"""

from __future__ import annotations

import logging
import os
from fnmatch import fnmatchcase

from django.conf import settings

from config.env import names_read

logger = logging.getLogger(__name__)

INFRASTRUCTURE = (
    *("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_*", "DJANGO_*", "EMAIL_*", "ROUTELAB_*"),
    *("PG*", "POSTGRES_*"),  # libpq's and the postgres image's
)


def key_env_refusal(name: str) -> str | None:
    """Why `name` may not hold a provider's key, or None when it may."""
    allowed = ", ".join(settings.PROVIDER_KEY_ENV_ALLOWLIST) or "none"
    rule = (
        f"allowed are names matching {allowed} (PROVIDER_KEY_ENV_ALLOWLIST), except routelab's own settings"
    )
    if _is_infrastructure(name):
        return f"{name} is one of routelab's own settings and is never sent to a provider; {rule}."
    if not any(fnmatchcase(name, pattern) for pattern in settings.PROVIDER_KEY_ENV_ALLOWLIST):
        return f"{name} is not on the allowlist; {rule}."
    return None


def _is_infrastructure(name: str) -> bool:
    return (
        name in names_read()
        or (name.isupper() and name in dir(settings))  # Django's defaults and every project setting
        or any(fnmatchcase(name, pattern) for pattern in INFRASTRUCTURE)
    )


def provider_key(*, provider: str, env_name: str) -> str:
    """The key in `env_name`, or "" (the call goes without a key) when the name is not allowed."""
    if not env_name:
        return ""
    if refusal := key_env_refusal(env_name):
        logger.warning("provider %s is called without a key: its api_key_env %s", provider, refusal)
        return ""
    return os.environ.get(env_name, "")
