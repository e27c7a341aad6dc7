"""A test that needs ../shared/datasets skips without it on a developer's machine and fails under CI."""

import pytest

from tests.datasets import require_dataset


def test_a_missing_dataset_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="missing.*CI=true"):
        require_dataset(tmp_path / "routellm")


def test_a_missing_dataset_skips_on_a_developers_machine(monkeypatch, tmp_path):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="routellm is missing"):
        require_dataset(tmp_path / "routellm")


def test_a_present_dataset_is_returned(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    assert require_dataset(tmp_path) == tmp_path
