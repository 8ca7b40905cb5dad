"""Known secret values are redacted from what leaves a node's attempt: its output, its
error and every log record, while the attempt holds them."""

import logging

import pytest

from data_plane.secrets import REDACTED, KnownSecrets, RedactingFilter


def test_values_held_are_redacted_in_keys_and_strings_at_any_depth() -> None:
    known = KnownSecrets()
    output = {"echo": "token=s3cr3t!", "s3cr3t!": ["a s3cr3t! b", 7, None], "n": 1.5}
    with known.holding(["s3cr3t!"]):
        assert known.redact(output) == {
            "echo": f"token={REDACTED}",
            REDACTED: [f"a {REDACTED} b", 7, None],
            "n": 1.5,
        }
    assert known.redact(output) == output


def test_a_value_containing_another_is_redacted_whole() -> None:
    known = KnownSecrets()
    with known.holding(["abcd", "abcdefgh"]):
        assert known.redact_text("x abcdefgh y abcd") == f"x {REDACTED} y {REDACTED}"


def test_values_shorter_than_four_characters_are_left_alone() -> None:
    known = KnownSecrets()
    with known.holding(["on"]):
        assert known.redact_text("on and on") == "on and on"


def test_a_value_two_attempts_hold_stays_known_until_both_let_go() -> None:
    known = KnownSecrets()
    with known.holding(["shared-value"]):
        with known.holding(["shared-value"]):
            pass
        assert known.redact_text("shared-value") == REDACTED
    assert known.redact_text("shared-value") == "shared-value"


def test_log_records_lose_the_value_in_their_message_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    known = KnownSecrets()
    caplog.handler.addFilter(RedactingFilter(known))
    log = logging.getLogger("some.library")
    with known.holding(["hunter2-token"]):
        log.warning("sending Authorization: Bearer %s", "hunter2-token")
        try:
            raise ValueError("refused hunter2-token")
        except ValueError:
            log.exception("the call failed")
    assert "hunter2-token" not in caplog.text
    assert f"Bearer {REDACTED}" in caplog.text
    assert f"ValueError: refused {REDACTED}" in caplog.text
