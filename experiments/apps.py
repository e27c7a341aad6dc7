from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Plug assignment and recorded answers into the gateway (routing.hooks): routing never imports us."""
        from experiments.selectors import recorded_answer_lookup, running_experiments_snapshot
        from experiments.services import training  # noqa: F401 - registers the dataset training source
        from routing import hooks

        hooks.register_experiments(running_experiments_snapshot)
        hooks.register_recorded_answers(recorded_answer_lookup)
