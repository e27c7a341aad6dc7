"""Once the routing snapshot is warm, a proxied request makes no database query: key, route, policy,
decision and the call record (a Redis stream entry) all stay off PostgreSQL."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connections
from django.db.backends.signals import connection_created

from tests.streams import chat_stream

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


class EveryQuery:
    """Records the SQL run on any connection, in any thread, opened before or during the block."""

    def __init__(self):
        self.sql: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        with self._lock:
            self.sql.append(sql)
        return execute(sql, params, many, context)

    def _watch(self, sender, connection, **kwargs):
        connection.execute_wrappers.append(self)

    def __enter__(self):
        connection_created.connect(self._watch)
        for connection in connections.all(initialized_only=True):
            connection.execute_wrappers.append(self)
        return self

    def __exit__(self, *exc):
        connection_created.disconnect(self._watch)
        for connection in connections.all(initialized_only=True):
            if self in connection.execute_wrappers:
                connection.execute_wrappers.remove(self)


def _ask(client, auth, stream: bool = False):
    body = {"messages": FRANCE, "stream": stream}
    if stream:
        response, content = chat_stream(body, auth)
        assert b"data: [DONE]" in content
        return response
    response = client.post(
        "/v1/chat/completions", data=json.dumps(body), content_type="application/json", **auth
    )
    assert response.status_code == 200, response.content
    return response


@pytest.mark.parametrize("stream", [False, True])
def test_a_warm_proxied_request_makes_no_database_query(client, live_route, stream):
    _ask(client, live_route.auth)  # builds the routing snapshot (the one time the database is read)

    with EveryQuery() as queries:
        _ask(client, live_route.auth, stream=stream)

    assert queries.sql == []


def test_the_query_counter_sees_a_query_from_another_thread(live_route):
    from routing.models import Route

    with EveryQuery() as queries:
        worker = threading.Thread(target=lambda: (Route.objects.count(), connections.close_all()))
        worker.start()
        worker.join()

    assert any("routing_route" in sql for sql in queries.sql)
