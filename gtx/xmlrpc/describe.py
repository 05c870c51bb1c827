"""How an error message shows a value that came in over XML-RPC: short and safe."""

from __future__ import annotations


def describe(value: object) -> str:
    """A short description of a received value, safe to put in a fault or error message
    (``nil``, ``true``, ``a struct``, ``an array``, ``base64 data``, or its repr cut to 60)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a struct"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, bytes | bytearray):
        return "base64 data"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
