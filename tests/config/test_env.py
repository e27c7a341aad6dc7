import pytest

from config.env import EnvError, env_bool, env_float, env_int, env_list, env_url


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("1", True), ("ON", True), ("no", False), ("", False)]
)
def test_booleans_are_read_in_their_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", default=not expected) is expected


def test_a_misspelt_boolean_fails_loudly_naming_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "ture")
    with pytest.raises(EnvError, match="DEBUG='ture' is not a boolean"):
        env_bool("DEBUG", default=False)


def test_an_unset_variable_takes_its_default(monkeypatch):
    monkeypatch.delenv("ABSENT", raising=False)
    assert env_int("ABSENT", 7) == 7
    assert env_list("ABSENT", ["a"]) == ["a"]


def test_a_non_integer_or_a_value_below_its_minimum_fails(monkeypatch):
    monkeypatch.setenv("N", "ten")
    with pytest.raises(EnvError, match="N='ten' is not an integer"):
        env_int("N", 1)
    monkeypatch.setenv("N", "-3")
    with pytest.raises(EnvError, match="below its minimum 0"):
        env_int("N", 1, minimum=0)
    monkeypatch.setenv("F", "fast")
    with pytest.raises(EnvError, match="not a number"):
        env_float("F", 1.0)


def test_lists_are_comma_separated_and_trimmed(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example , b.example,,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_a_url_with_the_wrong_scheme_fails_naming_the_variable(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://u@h/db")
    with pytest.raises(EnvError, match="DATABASE_URL must be a URL with scheme"):
        env_url("DATABASE_URL", {"postgres"})
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert env_url("DATABASE_URL", {"postgres"}) == "postgres://u@h/db"
