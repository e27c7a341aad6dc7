import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("routelab")


class RoutingConfig(AppConfig):
    name = "routing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        logger.info(
            "routelab database: %s; broker: %s", settings.DATABASE_DESCRIPTION, settings.BROKER_DESCRIPTION
        )
