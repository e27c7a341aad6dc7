from routing.gateway.pgtext import storable


def test_plain_text_passes_through_unchanged():
    assert storable("What is the capital of France? Paris, 😀") == "What is the capital of France? Paris, 😀"


def test_nul_becomes_the_replacement_character_and_a_lone_surrogate_a_question_mark():
    assert storable("a\x00b\ud800c") == "a\ufffdb?c"


def test_lists_and_dicts_are_cleaned_throughout_keys_included():
    value = {"k\x00": ["x\x00", {"y": "\udfff"}], "n": 3, "none": None}
    assert storable(value) == {"k\ufffd": ["x\ufffd", {"y": "?"}], "n": 3, "none": None}
