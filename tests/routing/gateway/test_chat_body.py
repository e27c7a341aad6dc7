import pytest

from routing.gateway.chat_body import BodyError, validate_chat_body

HELLO = [{"role": "user", "content": "hello"}]


def test_a_minimal_body_is_accepted_with_defaults():
    assert validate_chat_body({"messages": HELLO}) == {"messages": HELLO, "stream": False, "params": {}}


def test_known_optional_fields_are_kept_and_unknown_ones_ignored():
    body = {
        "messages": HELLO,
        "temperature": 0.2,
        "max_tokens": 50,
        "stop": ["\n"],
        "user": "u",
        "seed": 3,
        "metadata": {"feature": "faq"},
        "stream": True,
        "tools": [{"type": "function"}],
    }
    clean = validate_chat_body(body)
    assert clean["temperature"] == 0.2 and clean["max_tokens"] == 50 and clean["stream"] is True
    assert clean["metadata"] == {"feature": "faq"}
    assert "seed" not in clean


def test_content_parts_with_images_are_accepted():
    parts = [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": "data:,"}}]
    assert (
        validate_chat_body({"messages": [{"role": "user", "content": parts}]})["messages"][0]["content"]
        == parts
    )


def test_an_assistant_turn_may_carry_tool_calls_instead_of_content_and_a_tool_turn_answers_one():
    call = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ]
    assert validate_chat_body({"messages": messages})["messages"] == messages


@pytest.mark.parametrize(
    ("body", "path", "fragment"),
    [
        ([], "", "JSON object"),
        ({}, "messages", "required"),
        ({"messages": "hi"}, "messages", "Expected a list"),
        ({"messages": []}, "messages", "may not be empty"),
        ({"messages": ["hi"]}, "messages[0]", "JSON object"),
        ({"messages": [{"content": "hi"}]}, "messages[0].role", "required"),
        ({"messages": [{"role": "bot", "content": "hi"}]}, "messages[0].role", "not a valid choice"),
        ({"messages": [{"role": "user", "content": 7}]}, "messages[0].content", "string, a list"),
        ({"messages": [{"role": "user", "content": [{"text": "x"}]}]}, "messages[0].content[0]", "'type'"),
        ({"messages": HELLO, "temperature": "hot"}, "temperature", "valid number"),
        ({"messages": HELLO, "temperature": 3}, "temperature", "between 0 and 2"),
        ({"messages": HELLO, "max_tokens": 0}, "max_tokens", "greater than or equal to 1"),
        ({"messages": HELLO, "max_tokens": True}, "max_tokens", "valid integer"),
        ({"messages": HELLO, "stream": "yes"}, "stream", "true or false"),
        ({"messages": HELLO, "stop": [1]}, "stop", "up to 4 strings"),
        ({"messages": HELLO, "metadata": {"feature": 5}}, "metadata.feature", "valid string"),
        ({"messages": HELLO, "tools": [1]}, "tools[0]", "JSON object"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "required"),
        ({"messages": [{"role": "system", "content": None}]}, "messages[0].content", "required"),
        ({"messages": [{"role": "assistant"}]}, "messages[0].content", "required"),
        ({"messages": [{"role": "tool", "content": "18C"}]}, "messages[0].tool_call_id", "required"),
        (
            {"messages": [{"role": "user", "content": [{"type": "bogus"}]}]},
            "messages[0].content[0].type",
            "not a valid choice",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages[0].content[0].text",
            "required",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
            "messages[0].content[0].text",
            "valid string",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "messages[0].content[0].image_url.url",
            "valid string",
        ),
    ],
)
def test_bad_bodies_are_rejected_naming_the_field(body, path, fragment):
    with pytest.raises(BodyError) as caught:
        validate_chat_body(body)
    assert caught.value.path == path
    assert fragment in caught.value.message
