"""Upstream data in ../shared: a user's clone skips with one line naming it; CI (SLMKIT_REQUIRE_SHARED=1) fails."""

from __future__ import annotations

import pytest

from tests.fixtures import shared


def test_a_missing_folder_skips_with_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(shared, "SHARED", tmp_path / "shared")
    monkeypatch.delenv(shared.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        shared.shared_path("crd-schemas")
    reason = str(skipped.value)
    assert reason.startswith("needs ../shared: ") and str(tmp_path / "shared" / "crd-schemas") in reason
    assert "\n" not in reason


def test_ci_turns_the_skip_into_a_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(shared, "SHARED", tmp_path / "shared")
    monkeypatch.setenv(shared.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="needs ../shared"):
        shared.shared_path("crd-schemas")


def test_a_present_folder_is_returned(tmp_path, monkeypatch):
    (tmp_path / "shared" / "crd-schemas").mkdir(parents=True)
    monkeypatch.setattr(shared, "SHARED", tmp_path / "shared")
    assert shared.shared_path("crd-schemas") == tmp_path / "shared" / "crd-schemas"
