"""Text a submission controls, made safe to store and to show.

A submission's messages, its printed output, its notebook's code and its file
name reach the gradebook, every export and the terminal. :func:`clean` is
applied where such text enters the grader, so that nothing after it has to
care: no lone surrogates (SQLite, JSON and UTF-8 terminals refuse them), no
control characters (terminal escapes that retitle a window or clear a screen),
no bidirectional overrides (text that reads differently from what it holds).
:func:`clean_name` does the same for a file name, visibly, so that a name stays
recognisable.
"""

from __future__ import annotations

import re

# C0 and C1 controls but tab and newline, DEL, and the bidirectional embeddings,
# overrides and isolates (U+202A-U+202E, U+2066-U+2069).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str, limit: int | None = None) -> str:
    """``text`` without control characters and with every lone surrogate as U+FFFD,
    cut to ``limit`` characters (with an ellipsis) when given."""
    text = _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "…"
    return text


def clean_name(name: str) -> str:
    """A file name, or a submission id made of one, as text to store and show: a
    byte that is not UTF-8 (held by Python as a lone surrogate) becomes ``\\xNN``,
    and a control character its escape (``\\x1b``), so that two names stay two."""
    try:
        raw = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name holds
        raw = _SURROGATE.sub("\ufffd", name)
    return _CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), raw)
