"""The call table becomes range-partitioned by month on started_at (routing/partitions.py says why).

The table is rebuilt: the old one is renamed, a partitioned one created like it with the primary key
(id, started_at), partitions made for every month its rows cover and AHEAD_MONTHS after, the rows copied,
then the old indexes and foreign keys recreated under their own names (so later migrations find them) and
the old table dropped. Foreign keys pointing at the call table cannot survive (they would need started_at):
analytics drops its one, Score.call, in a migration that runs before this one.
"""

from django.db import migrations

from routing.partitions import DEFAULT, TABLE, call_partitions_ensure

OLD = f"{TABLE}_unpartitioned"
INDEXES = """
SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = %s::regclass AND NOT x.indisprimary
"""
FOREIGN_KEYS = """
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'
"""


def _definitions(cursor, sql):
    cursor.execute(sql, [TABLE])
    return cursor.fetchall()


def _set_old_aside(cursor, indexes, foreign_keys):
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    cursor.execute(f"ALTER TABLE {OLD} DROP CONSTRAINT {TABLE}_pkey")
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    for name, _ in foreign_keys:
        cursor.execute(f'ALTER TABLE {OLD} DROP CONSTRAINT "{name}"')


def _create_partitioned(cursor):
    cursor.execute(
        f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE) "
        "PARTITION BY RANGE (started_at)"
    )
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, started_at)")
    cursor.execute(f"CREATE TABLE {DEFAULT} PARTITION OF {TABLE} DEFAULT")
    cursor.execute(f"SELECT MIN(started_at) FROM {OLD}")
    call_partitions_ensure(since=cursor.fetchone()[0])


def partition_calls(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        indexes, foreign_keys = _definitions(cursor, INDEXES), _definitions(cursor, FOREIGN_KEYS)
        _set_old_aside(cursor, indexes, foreign_keys)
        _create_partitioned(cursor)
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")
        for _, definition in indexes:
            cursor.execute(definition)
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(f"DROP TABLE {OLD}")


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0010_model_supports_embeddings"),
    ]

    operations = [
        migrations.RunPython(partition_calls, migrations.RunPython.noop, elidable=False),
    ]
