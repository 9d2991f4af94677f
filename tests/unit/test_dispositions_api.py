"""The dispositions endpoint's answers: 401 without the token, 422 on a bad body, 202 when good."""

from __future__ import annotations

import json

from stream_apps.dispositions_api import MAX_BODY_BYTES, accept_disposition

TOKEN = "s3cret-token"
GOOD = json.dumps(
    {"v": 1, "alert_id": "a1", "ts": 1790726400.0, "actor": "li", "action": "verified"}
).encode()


def test_a_good_disposition_is_accepted():
    status, answer, record = accept_disposition(f"Bearer {TOKEN}", GOOD, TOKEN)
    assert status == 202 and record.alert_id == "a1" and answer["action"] == "verified"


def test_a_missing_token_is_401():
    assert accept_disposition(None, GOOD, TOKEN)[0] == 401


def test_a_wrong_token_is_401():
    assert accept_disposition("Bearer nope", GOOD, TOKEN)[0] == 401
    assert accept_disposition(f"Basic {TOKEN}", GOOD, TOKEN)[0] == 401


def test_a_body_that_is_not_a_disposition_is_422_naming_the_field():
    bad = json.dumps({"v": 1, "alert_id": "a1", "ts": 1790726400.0, "actor": "li"}).encode()
    status, answer, record = accept_disposition(f"Bearer {TOKEN}", bad, TOKEN)
    assert status == 422 and record is None and "action" in answer["error"]


def test_an_unknown_action_is_422():
    bad = GOOD.replace(b"verified", b"ignored")
    assert accept_disposition(f"Bearer {TOKEN}", bad, TOKEN)[0] == 422


def test_an_oversized_body_is_413():
    assert accept_disposition(f"Bearer {TOKEN}", b" " * (MAX_BODY_BYTES + 1), TOKEN)[0] == 413


def test_without_a_configured_token_the_endpoint_is_off():
    assert accept_disposition(f"Bearer {TOKEN}", GOOD, None)[0] == 503
