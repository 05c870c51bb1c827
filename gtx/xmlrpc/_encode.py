"""XML-RPC encoding: Python values to XML-RPC bodies (see :mod:`gtx.xmlrpc.codec`).

The body is built as a string with explicit escaping, which is faster than building a tree.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from gtx.xmlrpc._values import DEFAULT_MAX_DEPTH, INT32, INT64, METHOD_NAME, NOT_XML, Invalid
from gtx.xmlrpc.errors import CodecError

_HEADER = '<?xml version="1.0"?>\n'
_FALSE = "<value><boolean>0</boolean></value>"


def _escape(text: str) -> str:
    if text.isalnum():  # the common case ("ok", "menu", digits): nothing to escape or refuse
        return text
    bad = NOT_XML.search(text)
    if bad is not None:
        raise Invalid(
            f"cannot encode character U+{ord(bad.group()):04X} at index {bad.start()}: "
            "XML 1.0 cannot carry it (send such data as bytes, i.e. base64)"
        )
    # \r is escaped so that XML's line-end normalisation does not turn it into \n.
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


_Encoder = Callable[[Any, list[str], int], None]


def _encode(value: object, out: list[str], depth: int) -> None:
    # Exact types through a table (fast); subclasses (IntEnum, str enums, …) by isinstance.
    _ENCODERS.get(type(value), _encode_subclass)(value, out, depth)


def _encode_str(value: str, out: list[str], depth: int) -> None:
    out.append(f"<value><string>{_escape(value)}</string></value>")


def _encode_int(value: int, out: list[str], depth: int) -> None:
    if INT32[0] <= value <= INT32[1]:
        out.append(f"<value><int>{value}</int></value>")
    elif INT64[0] <= value <= INT64[1]:
        out.append(f"<value><i8>{value}</i8></value>")
    else:
        raise Invalid(f"cannot encode {value}: integers are limited to 64 bits")


def _encode_bool(value: bool, out: list[str], depth: int) -> None:
    out.append("<value><boolean>1</boolean></value>" if value else _FALSE)


def _encode_double(value: float, out: list[str], depth: int) -> None:
    if not math.isfinite(value):
        raise Invalid(f"cannot encode the double {value!r}: XML-RPC has no NaN or infinity")
    out.append(f"<value><double>{value!r}</double></value>")


def _encode_nil(value: None, out: list[str], depth: int) -> None:
    out.append("<value><nil/></value>")


def _encode_datetime(value: datetime, out: list[str], depth: int) -> None:
    # Like the standard library: seconds precision, any time zone dropped.
    out.append(
        f"<value><dateTime.iso8601>{value.year:04d}{value.month:02d}{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}</dateTime.iso8601></value>"
    )


def _encode_base64(value: bytes, out: list[str], depth: int) -> None:
    out.append(f"<value><base64>{base64.b64encode(value).decode('ascii')}</base64></value>")


def _encode_struct(value: Mapping[object, object], out: list[str], depth: int) -> None:
    if depth >= DEFAULT_MAX_DEPTH:
        raise Invalid(f"nested deeper than {DEFAULT_MAX_DEPTH} levels (a cycle?)")
    append, encoders = out.append, _ENCODERS
    append("<value><struct>")
    for key, member in value.items():
        if not isinstance(key, str):
            raise Invalid(f"struct member {key!r} is a {type(key).__name__}, not a string")
        append(f"<member><name>{_escape(str.__str__(key))}</name>")
        try:
            encoders.get(type(member), _encode_subclass)(member, out, depth + 1)
        except Invalid as problem:
            problem.path.append(f".{key}")
            raise
        append("</member>")
    append("</struct></value>")


def _encode_array(value: Sequence[object], out: list[str], depth: int) -> None:
    if depth >= DEFAULT_MAX_DEPTH:
        raise Invalid(f"nested deeper than {DEFAULT_MAX_DEPTH} levels (a cycle?)")
    append, encoders = out.append, _ENCODERS
    append("<value><array><data>")
    for index, item in enumerate(value):
        try:
            encoders.get(type(item), _encode_subclass)(item, out, depth + 1)
        except Invalid as problem:
            problem.path.append(f"[{index}]")
            raise
    append("</data></array></value>")


def _encode_subclass(value: object, out: list[str], depth: int) -> None:
    for kind, encoder, convert in _SUBCLASSES:
        if isinstance(value, kind):
            encoder(convert(value), out, depth)
            return
    raise Invalid(f"cannot encode a {type(value).__name__} in XML-RPC")


_ENCODERS: dict[type, _Encoder] = {
    str: _encode_str,
    int: _encode_int,
    bool: _encode_bool,
    float: _encode_double,
    dict: _encode_struct,
    list: _encode_array,
    tuple: _encode_array,
    type(None): _encode_nil,
    datetime: _encode_datetime,
    bytes: _encode_base64,
    bytearray: _encode_base64,
}
# In this order: a bool is an int, and the values are converted to the plain type first.
_SUBCLASSES: list[tuple[tuple[type, ...], _Encoder, Callable[[Any], object]]] = [
    ((bool,), _encode_bool, bool),
    ((int,), _encode_int, int),
    ((float,), _encode_double, float),
    ((str,), _encode_str, str.__str__),  # str() of a str enum is its name
    ((datetime,), _encode_datetime, lambda value: value),
    ((bytes, bytearray, memoryview), _encode_base64, bytes),
    ((Mapping,), _encode_struct, lambda value: value),
    ((list, tuple), _encode_array, lambda value: value),
]


def dumps_call(method: str, params: Sequence[object]) -> bytes:
    """Encode a ``methodCall`` of ``method`` with positional ``params``.

    Raises :class:`CodecError` for a value XML-RPC cannot carry, naming where it is.
    """
    if not METHOD_NAME.match(method):
        raise CodecError(f"method name {method!r} is not valid: use letters, digits and _.:/")
    out = [_HEADER, f"<methodCall><methodName>{method}</methodName><params>"]
    for index, param in enumerate(params):
        out.append("<param>")
        try:
            _encode(param, out, 0)
        except Invalid as problem:
            raise problem.at(f"params[{index}]") from None
        out.append("</param>")
    out.append("</params></methodCall>")
    return "".join(out).encode("utf-8")


def dumps_response(value: object) -> bytes:
    """Encode a successful ``methodResponse`` carrying ``value``."""
    out = [_HEADER, "<methodResponse><params><param>"]
    try:
        _encode(value, out, 0)
    except Invalid as problem:
        raise problem.at("response") from None
    out.append("</param></params></methodResponse>")
    return "".join(out).encode("utf-8")


def dumps_fault(code: int, message: str) -> bytes:
    """Encode a fault ``methodResponse`` with ``faultCode`` and ``faultString``."""
    out = [_HEADER, "<methodResponse><fault>"]
    try:
        _encode({"faultCode": code, "faultString": message}, out, 0)
    except Invalid as problem:
        raise problem.at("fault") from None
    out.append("</fault></methodResponse>")
    return "".join(out).encode("utf-8")
