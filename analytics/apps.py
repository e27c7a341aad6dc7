from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Plug analytics into routing (routing.hooks): route scoring settings, scoring stored calls, and
        feedback held for calls not stored yet, and the scores of calls past retention."""
        from analytics.reports import promotion_verdict, report_family_size
        from analytics.scoring_config import scoring_validate
        from analytics.services import call_scores_expire
        from analytics.tasks import feedback_pending_enqueue, score_calls_enqueue
        from analytics.training import training_set_from_route
        from experiments.planning import register_family_size
        from experiments.services.promotions import register_verdict_source
        from experiments.training_sources import register_source
        from routing import hooks

        register_source("route", training_set_from_route)
        register_family_size(report_family_size)
        register_verdict_source(promotion_verdict)

        hooks.register_scoring_validator(scoring_validate)
        hooks.register_calls_stored(score_calls_enqueue)
        hooks.register_calls_stored(feedback_pending_enqueue)
        hooks.register_calls_expiring(call_scores_expire)
