"""Secrets never print."""

from __future__ import annotations

import logging

import pytest

from gateway.crypto import SecretBytes

VALUE = b"hunter2-hunter2"


def test_when_printed_in_any_way_then_the_value_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    secret = SecretBytes(VALUE)
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("key %s %r", secret, secret)
    for text in (repr(secret), str(secret), f"{secret}", caplog.text, repr([secret])):
        assert "hunter2" not in text
        assert "**********" in text


def test_when_compared_then_equal_values_are_equal() -> None:
    assert SecretBytes(VALUE) == SecretBytes(bytearray(VALUE))
    assert SecretBytes(VALUE) != SecretBytes(b"other")
    assert SecretBytes(VALUE).get_secret() == VALUE


def test_when_used_as_a_dict_key_then_it_is_refused() -> None:
    with pytest.raises(TypeError):
        hash(SecretBytes(VALUE))


def test_when_given_text_then_it_is_refused() -> None:
    with pytest.raises(TypeError):
        SecretBytes("not bytes")  # type: ignore[arg-type]
