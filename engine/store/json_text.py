"""JSON text for the hot path: the same text as ``json.JSONEncoder.encode``, without its per-call set-up.

Every call of ``JSONEncoder.encode`` builds a new C encoder object before encoding anything, which costs about as
much as encoding a small dict; a command encodes a few dozen (the state's task data, each audit event's hash input,
the case facts' digest). ``one_shot`` builds the C encoder once. It leaves out the circular-reference check: a
value that contains itself fails with RecursionError instead of ValueError (form data and task data never do).
"""
from __future__ import annotations

import json
from json import encoder as _encoder

# CPython's C encoder (None without the accelerator): private to json.encoder, so typeshed does not list it.
_c_make_encoder = getattr(_encoder, "c_make_encoder", None)


def one_shot(encoder: json.JSONEncoder):
    """A function giving ``encoder.encode(value)`` for any value without cycles."""
    if _c_make_encoder is None or encoder.indent is not None:  # no C accelerator: nothing to save
        return encoder.encode
    make = _c_make_encoder(
        None, encoder.default,
        _encoder.encode_basestring_ascii if encoder.ensure_ascii else _encoder.encode_basestring,
        None, encoder.key_separator, encoder.item_separator, encoder.sort_keys, encoder.skipkeys,
        encoder.allow_nan)
    join = "".join

    def encode(value) -> str:
        return join(make(value, 0))
    return encode
