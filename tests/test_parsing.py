"""One vocabulary for booleans, durations, numbers and choices, with errors naming the value."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.parsing import DURATION_PATTERN, as_bool, as_choice, as_duration, as_int

H = timedelta(hours=1)


@pytest.mark.parametrize("text, expected", [("3h", 3 * H), ("90m", 90 * timedelta(minutes=1)), ("1d", 24 * H),
                                            (3600, H), ("7200", 2 * H), (H, H), ("1.5h", 1.5 * H), (" 2H ", 2 * H)])
def test_durations(text, expected):
    assert as_duration(text, "x") == expected
    if isinstance(text, str):
        assert re.match(DURATION_PATTERN, text)  # the DAG param accepts what the parser accepts


@pytest.mark.parametrize("text", ["soon", "3 hours", "-1h", "h", ""])
def test_bad_durations_name_the_value(text):
    with pytest.raises(ConfigError, match="safety_margin"):
        as_duration(text, "safety_margin")
    assert not re.match(DURATION_PATTERN, text)


@pytest.mark.parametrize("text, expected", [("true", True), ("YES", True), ("1", True), ("on", True), (True, True),
                                            ("false", False), ("No", False), ("0", False), ("off", False)])
def test_booleans(text, expected):
    assert as_bool(text, "dry_run") is expected


def test_unset_boolean_takes_the_default_and_unknown_text_is_an_error():
    assert as_bool(None, "dry_run", False) is False
    assert as_bool("None", "dry_run", True) is True
    with pytest.raises(ConfigError, match="'maybe'"):
        as_bool("maybe", "dry_run")


def test_int_and_choice():
    assert as_int("8", "threads") == 8 and as_int(None, "threads", 4) == 4
    with pytest.raises(ConfigError, match="at least 1"):
        as_int("0", "threads", minimum=1)
    with pytest.raises(ConfigError, match="whole number"):
        as_int("eight", "threads")
    assert as_choice("FULL", "mode", ("auto", "full", "incremental")) == "full"
    with pytest.raises(ConfigError, match="auto, full, incremental"):
        as_choice("fast", "mode", ("auto", "full", "incremental"))
