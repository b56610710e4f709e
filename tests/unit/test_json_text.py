"""``engine.store.json_text.one_shot`` writes exactly what ``JSONEncoder.encode`` writes (audit hashes and stored
states depend on it)."""
from __future__ import annotations

import datetime as dt
import decimal
import json

import pytest

from engine.store import json_text

VALUES = [
    {"b": 1, "a": [1, 2.5, -0.0, 1e300, "é", "\u2028", None, True, False], "c": {"z": {}, "y": []}},
    ["Kovács Éva", {"3": "x", "10": "y"}, 12345678901234567890],
    "plain text", 7, 3.25, None, True, [], {},
    {"when": dt.date(2026, 3, 5), "amount": decimal.Decimal("12.50")},  # through ``default``
]
ENCODERS = [
    json.JSONEncoder(separators=(",", ":")),
    json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str),
    json.JSONEncoder(sort_keys=True, default=str),
]


@pytest.mark.parametrize("encoder", ENCODERS, ids=["ascii", "canonical", "digest"])
@pytest.mark.parametrize("value", VALUES)
def test_the_same_text_as_the_encoder(encoder, value):
    try:
        expected = encoder.encode(value)
    except TypeError:
        with pytest.raises(TypeError):
            json_text.one_shot(encoder)(value)
        return
    assert json_text.one_shot(encoder)(value) == expected


def test_a_value_the_encoder_refuses_is_refused():
    with pytest.raises(ValueError):
        json_text.one_shot(json.JSONEncoder(allow_nan=False))(float("nan"))
    with pytest.raises(TypeError):
        json_text.one_shot(json.JSONEncoder())({"x": object()})
