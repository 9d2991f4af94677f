"""The inspections endpoint's answers follow the dispositions endpoint's rules."""

from __future__ import annotations

import json

from stream_apps.dispositions_api import MAX_BODY_BYTES
from stream_apps.inspections_api import accept_inspection

TOKEN = "s3cret-token"
GOOD = json.dumps(
    {
        "v": 1,
        "operator_id": "op-a",
        "ts": 1793610000.0,
        "inspector": "甲",
        "station": "友谊路所",
        "kind": "online",
        "result": "issues_found",
    }
).encode()


def test_a_good_inspection_is_accepted():
    status, answer, record = accept_inspection(f"Bearer {TOKEN}", GOOD, TOKEN)
    assert status == 202 and record.operator_id == "op-a" and answer["kind"] == "online"


def test_token_rules_are_the_dispositions_ones():
    assert accept_inspection(None, GOOD, TOKEN)[0] == 401
    assert accept_inspection("Bearer nope", GOOD, TOKEN)[0] == 401
    assert accept_inspection("Bearer 令牌", GOOD, TOKEN)[0] == 401
    status, answer, _ = accept_inspection(f"Bearer {TOKEN}", GOOD, None)
    assert status == 503 and "inspections endpoint disabled" in answer["error"]


def test_bad_bodies_are_422_or_413():
    status, answer, record = accept_inspection(
        f"Bearer {TOKEN}", GOOD.replace(b"online", b"x"), TOKEN
    )
    assert status == 422 and record is None and "kind" in answer["error"]
    assert accept_inspection(f"Bearer {TOKEN}", b" " * (MAX_BODY_BYTES + 1), TOKEN)[0] == 413
