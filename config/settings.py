"""routelab settings, read from the environment (see README, "Configuration").

With DATABASE_URL unset, an embedded PostgreSQL runs under var/; with REDIS_URL unset, an embedded
Redis does. Both are the production engines, so nothing behaves differently on a laptop.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import dj_database_url

from config import embedded
from config.env import EnvError, env_bool, env_float, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.var_dir(BASE_DIR)

DATABASE_URL = env_url("DATABASE_URL", {"postgres", "postgresql", "pgsql"})
REDIS_URL = env_url("REDIS_URL", {"redis", "rediss", "unix"})
EMBEDDED = DATABASE_URL is None

DEBUG = env_bool("DEBUG", default=EMBEDDED)


def _secret_key() -> str:
    if key := env_str("SECRET_KEY"):
        return key
    if not DEBUG:
        raise EnvError("SECRET_KEY must be set when DEBUG is off")
    # A development key kept per checkout, outside version control.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "routing",
    "experiments",
    "analytics",
    "devtools",  # the simulator, traffic generator and demo commands: development tooling, no models
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.BodySizeLimitMiddleware",  # after auth: its page shows the signed-in user
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# -- database -------------------------------------------------------------------------------------

if EMBEDDED:
    DATABASES = {"default": embedded.postgres_settings(VAR_DIR)}
    DATABASE_DESCRIPTION = f"embedded PostgreSQL under {VAR_DIR / 'postgres'}"
else:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0), conn_health_checks=True
        )
    }
    _db = DATABASES["default"]
    DATABASE_DESCRIPTION = f"PostgreSQL {_db['NAME']} at {_db['HOST']}:{_db['PORT'] or 5432}"
DATABASES["default"].setdefault("TEST", {})["NAME"] = env_str("TEST_DATABASE_NAME", "test_routelab")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# -- redis: cache, Celery broker and results ---------------------------------------------------------

if REDIS_URL is None:
    REDIS_URL = embedded.redis_url(VAR_DIR)
    BROKER_DESCRIPTION = f"embedded Redis at {REDIS_URL}"
else:
    BROKER_DESCRIPTION = f"Redis at {REDIS_URL.split('@')[-1]}"


def _celery_url(url: str) -> str:
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url


CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "routelab"),
    }
}

CELERY_BROKER_URL = _celery_url(REDIS_URL)
CELERY_RESULT_BACKEND = _celery_url(REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1)
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# -- auth, static, i18n --------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "admin:login"
LOGOUT_REDIRECT_URL = "admin:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True

# -- HTTPS: production-safe defaults when DEBUG is off, so `manage.py check --deploy` is clean ------------

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=SESSION_COOKIE_SECURE)


def _proxy_ssl_header() -> tuple[str, str] | None:
    """Opt-in, behind a proxy that terminates TLS and sets the header: "X-Forwarded-Proto,https"."""
    value = env_list("SECURE_PROXY_SSL_HEADER", [])
    if not value:
        return None
    if len(value) != 2:
        raise EnvError(
            f"SECURE_PROXY_SSL_HEADER={value!r}: give a header and its value, X-Forwarded-Proto,https"
        )
    header = value[0].upper().replace("-", "_")
    return (header if header.startswith("HTTP_") else f"HTTP_{header}", value[1])


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header()

# -- APIs ----------------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    # DRF's defaults, with a JSON parser that refuses deep nesting before parsing
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TITLE": "routelab API",
    "DESCRIPTION": "Route each LLM request to the cheapest model that meets your quality bar, and prove it.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # the gateway's endpoints take a route API key; staff endpoints a session (see routing.gateway.endpoint)
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "routeApiKey": {"type": "http", "scheme": "bearer", "description": "A route API key, rl_..."}
        }
    },
    "ENUM_NAME_OVERRIDES": {"MetricEnum": "experiments.models.Metric"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 2 * 1024 * 1024, minimum=1024)
# Deeper JSON bodies get a 400 on every endpoint (Python's json would raise RecursionError on them).
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 64, minimum=2)

# -- providers -------------------------------------------------------------------------------------------

PROVIDER_CONNECT_TIMEOUT = env_float("PROVIDER_CONNECT_TIMEOUT", 5.0, minimum=0.1)
PROVIDER_READ_TIMEOUT = env_float("PROVIDER_READ_TIMEOUT", 60.0, minimum=0.1)
PROVIDER_MAX_ATTEMPTS = env_int("PROVIDER_MAX_ATTEMPTS", 3, minimum=1)
# The variables a provider's `api_key_env` may name (fnmatch patterns): its value goes, as a credential,
# to whatever base URL the provider has. routelab's own settings and variables are refused whatever matches.
PROVIDER_KEY_ENV_ALLOWLIST = env_list("PROVIDER_KEY_ENV_ALLOWLIST", ["*_API_KEY"])
SIMULATOR_URL = env_str("ROUTELAB_SIMULATOR_URL", "http://127.0.0.1:8900/v1")
DATASETS_DIR = Path(env_str("ROUTELAB_DATASETS_DIR", str(BASE_DIR.parent / "shared" / "datasets")))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

# -- routing resilience ------------------------------------------------------------------------------------

BREAKER_FAILURE_THRESHOLD = env_int("BREAKER_FAILURE_THRESHOLD", 5, minimum=1)
BREAKER_WINDOW_SECONDS = env_float("BREAKER_WINDOW_SECONDS", 30.0, minimum=1.0)
BREAKER_MIN_CALLS = env_int("BREAKER_MIN_CALLS", 20, minimum=1)
BREAKER_ERROR_RATE = env_float("BREAKER_ERROR_RATE", 0.5, minimum=0.01)
BREAKER_OPEN_SECONDS = env_float("BREAKER_OPEN_SECONDS", 15.0, minimum=0.1)
# How long a process trusts that a model's circuit it just read as closed still is, skipping the round
# trip that asks (0: ask on every call). A circuit another process opens is seen within this long.
BREAKER_CLOSED_LEASE_SECONDS = env_float("BREAKER_CLOSED_LEASE_SECONDS", 0.25, minimum=0.0)
RATE_LIMIT_MAX_WAIT = env_float("RATE_LIMIT_MAX_WAIT", 2.0, minimum=0.0)
PROVIDER_RETRY_BASE_DELAY = env_float("PROVIDER_RETRY_BASE_DELAY", 0.25, minimum=0.0)
# Retries may be at most this share of each provider's requests (per process), whatever clients do.
PROVIDER_RETRY_RATIO = env_float("PROVIDER_RETRY_RATIO", 0.2, minimum=0.0)
# One client request: at most this many provider requests (retries, fallbacks, escalations, a judge),
# and an answer (or, streamed, its first token) within this many seconds, else 504. A route may set both.
GATEWAY_MAX_ATTEMPTS = env_int("GATEWAY_MAX_ATTEMPTS", 4, minimum=1)
GATEWAY_DEADLINE_SECONDS = env_float("GATEWAY_DEADLINE_SECONDS", 90.0, minimum=0.1)
# The time a model keeps back for each fallback after it, so a hanging model leaves them time to answer.
GATEWAY_FALLBACK_RESERVE_SECONDS = env_float("GATEWAY_FALLBACK_RESERVE_SECONDS", 10.0, minimum=0.0)

# -- call records, scoring and jobs -----------------------------------------------------------------------

CALL_TEXT_MAX_CHARS = env_int("CALL_TEXT_MAX_CHARS", 20_000, minimum=0)
# Calls older than this many days are dropped a month-partition at a time, once the roll-ups hold them
# (routing/partitions.py); unset or 0 keeps every call.
CALL_RETENTION_DAYS = env_int("CALL_RETENTION_DAYS", 0, minimum=0) or None
WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 5.0, minimum=0.1)
# A webhook URL comes from an API key's holder: in production it may only reach public addresses, so a
# key cannot make the workers POST into the private network (SSRF); on a development machine, anything.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", DEBUG)
JOB_MAX_RETRIES = env_int("JOB_MAX_RETRIES", 3, minimum=0)
# Signs job webhooks (X-Routelab-Signature); defaults to a key derived from SECRET_KEY.
WEBHOOK_SIGNING_SECRET = (
    env_str("WEBHOOK_SIGNING_SECRET") or hashlib.sha256(f"webhook:{SECRET_KEY}".encode()).hexdigest()
)

# -- statistics and reports --------------------------------------------------------------------------------

STATS_ENGINE = env_str("STATS_ENGINE", "sequential")
if STATS_ENGINE not in {"sequential", "fixed", "bayesian"}:
    raise EnvError(
        f"STATS_ENGINE={STATS_ENGINE!r}: use sequential (always-valid, watch daily), fixed or bayesian"
    )
STATS_CORRECTION = env_str("STATS_CORRECTION", "holm")
if STATS_CORRECTION not in {"holm", "bh"}:
    raise EnvError(
        f"STATS_CORRECTION={STATS_CORRECTION!r}: use holm (family-wise error) or bh (false discovery)"
    )
REPORT_RECIPIENTS = env_list("REPORT_RECIPIENTS", [])
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "routelab@localhost")
