"""A score's call is kept by the services, not by a database constraint: the call table is partitioned
by time (routing 0011), and PostgreSQL lets a foreign key point at a partitioned table only through a
unique key holding the partition key. Runs before that migration, which would otherwise find the
constraint in its way."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0006_weekly_report_revisions"),
    ]
    run_before = [
        ("routing", "0011_call_partitioned"),
    ]

    operations = [
        migrations.AlterField(
            model_name="score",
            name="call",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="scores",
                to="routing.call",
            ),
        ),
    ]
