from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Development tooling (simulator, traffic, demo); it depends on every product app, none on it."""

    name = "devtools"
