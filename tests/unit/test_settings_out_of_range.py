"""Settings that used to pass the checks and then hung, crashed or quietly changed the gateway (attack16, F8/F9)."""

from __future__ import annotations

import pytest

from gateway.errors import ConfigurationError
from gateway.settings import load_settings


@pytest.mark.parametrize("url", ["mysql://u:hunter2@db/gw", "postgresql+psycopg://u:hunter2@db/gw", "db.internal"])
def test_when_database_url_is_not_postgres_then_the_start_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigurationError, match="setting database_url") as caught:
        load_settings({"GATEWAY_DATABASE_URL": url})
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("url", ["postgresql://u:p@db/gw", "postgres://u:p@db/gw", ""])
def test_when_database_url_is_postgres_or_empty_then_it_is_taken(url: str) -> None:
    assert load_settings({"GATEWAY_DATABASE_URL": url}).uses_postgres is bool(url)


@pytest.mark.parametrize(("name", "value"), [
    ("GATEWAY_CHECKPOINT_INTERVAL_S", "-5"),  # the audit writer thread died on queue.get(timeout=-5): start hung
    ("GATEWAY_MAX_BODY_BYTES", "-1"),
    ("GATEWAY_LOG_LEVEL", "LOUD"),  # a ValueError traceback from logging at start
    ("GATEWAY_REQUEST_TIMEOUT_S", "nan"),  # nan > 0 is False: served with no time limit at all
    ("GATEWAY_REQUEST_BODY_TIMEOUT_S", "inf"),
])
def test_when_a_setting_is_out_of_range_then_the_start_is_refused_naming_it(name: str, value: str) -> None:
    setting = name.removeprefix("GATEWAY_").lower()
    with pytest.raises(ConfigurationError, match=setting):
        load_settings({name: value})


def test_when_settings_are_at_their_edges_then_they_are_taken() -> None:
    settings = load_settings({"GATEWAY_CHECKPOINT_INTERVAL_S": "0", "GATEWAY_LOG_LEVEL": "debug",
                              "GATEWAY_MAX_BODY_BYTES": "1", "GATEWAY_REQUEST_TIMEOUT_S": "0"})
    assert (settings.checkpoint_interval_s, settings.max_body_bytes) == (0.0, 1)
