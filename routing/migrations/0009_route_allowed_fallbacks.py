from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0008_limits_deadlines_generation"),
    ]

    operations = [
        migrations.AddField(
            model_name="route",
            name="allowed_fallbacks",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Models (provider/model-id) a request may fall back to, in this order, after the "
                "ones its policy names.",
                verbose_name="allowed fallbacks",
            ),
        ),
    ]
