"""The official `openai` package, pointed at routelab's base URL, works unchanged."""

import openai
import pytest

pytestmark = [pytest.mark.integration]


@pytest.mark.django_db(transaction=True)
def test_the_openai_package_completes_a_chat_through_routelab(asgi_server, live_route):
    client = openai.OpenAI(base_url=f"{asgi_server}/v1", api_key=live_route.key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="route:support-bot",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        user="customer-42",
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.model == "gpt-4o-mini"
    assert completion.usage.completion_tokens > 0
    assert raw.headers["x-routelab-model"] == "simulator/gpt-4o-mini"
    assert raw.headers["x-routelab-policy-version"] == "by-complexity@v1"


@pytest.mark.django_db(transaction=True)
def test_the_openai_package_streams_a_chat_through_routelab(asgi_server, live_route):
    client = openai.OpenAI(base_url=f"{asgi_server}/v1", api_key=live_route.key, max_retries=0)
    stream = client.chat.completions.create(
        model="route:support-bot",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Explain step by step how to implement a binary search tree."}],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text) > 20
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


@pytest.mark.django_db(transaction=True)
def test_the_openai_package_sees_routelab_errors_as_api_errors(asgi_server, live_route):
    client = openai.OpenAI(base_url=f"{asgi_server}/v1", api_key="rl_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(
            model="route:support-bot", messages=[{"role": "user", "content": "hi"}]
        )
    assert "Invalid API key" in str(caught.value)


@pytest.mark.django_db(transaction=True)
def test_the_openai_package_lists_and_retrieves_the_keys_routes_as_models(asgi_server, live_route):
    from routing import services

    disabled = services.route_create(name="other-app")
    services.policy_create(route=disabled, name="p", spec=live_route.version.spec)
    services.route_update(route=disabled, enabled=False)
    no_policy = services.route_create(name="no-policy-yet")
    services.route_create(name="not-this-keys")
    _, key = services.api_key_create(name="app", routes=[live_route.route, disabled, no_policy])
    client = openai.OpenAI(base_url=f"{asgi_server}/v1", api_key=key, max_retries=0)

    listed = client.models.list()
    assert [m.id for m in listed.data] == ["route:support-bot"]
    assert listed.data[0].owned_by == "routelab:by-complexity@v1" and listed.data[0].created > 0

    assert client.models.retrieve("route:support-bot").id == "route:support-bot"
    for unknown in ("route:not-this-keys", "gpt-4o", "route:other-app", "no-policy-yet"):
        with pytest.raises(openai.NotFoundError) as refused:
            client.models.retrieve(unknown)
        assert unknown in refused.value.body["message"]


@pytest.mark.django_db(transaction=True)
def test_the_models_list_asks_for_a_key(asgi_server):
    client = openai.OpenAI(base_url=f"{asgi_server}/v1", api_key="rl_not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
