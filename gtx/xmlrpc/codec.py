"""A hardened, fast XML-RPC codec on lxml, with the standard library's type semantics.

========================  ===========================  ==================================
XML-RPC                   decodes to                   encoded from
========================  ===========================  ==================================
``int``, ``i4``, ``i8``   ``int`` (64-bit at most)     ``int``: ``<int>`` in the 32-bit
                                                       range, ``<i8>`` beyond (extension)
``boolean``               ``bool`` (``0``/``1`` only)  ``bool``
``string``, untyped       ``str`` (whitespace kept)    ``str``
``double``                ``float`` (finite)           ``float`` (NaN/inf refused)
``dateTime.iso8601``      naive ``datetime``           ``datetime`` (time zone dropped)
``base64``                ``bytes``                    ``bytes``, ``bytearray``
``struct``                ``dict`` (``str`` keys)      ``Mapping`` with ``str`` keys
``array``                 ``list``                     ``list``, ``tuple``
``nil``, ``ex:nil``       ``None``                     ``None`` as ``<nil/>`` (extension)
========================  ===========================  ==================================

``i8`` and ``nil`` are extensions to the XML-RPC specification that most implementations accept
(Python's ``xmlrpc.client`` decodes both; it encodes ``nil`` with ``allow_none=True``).

Hostile input is refused before it can cost anything: the size is checked before parsing, a
document with a DOCTYPE is refused (so no entity is ever expanded, no DTD or external entity is
ever loaded, nothing is fetched from the network), nesting is bounded, processing instructions
and comments are dropped. Every refusal is a :class:`~gtx.xmlrpc.errors.CodecError` whose message
says what is wrong and where, e.g. ``params[0].vars.x: <int> holds 'abc', not an integer``.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from lxml import etree

from gtx.xmlrpc.errors import BodyTooLarge, CodecError, Fault

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_SIZE",
    "dumps_call",
    "dumps_fault",
    "dumps_response",
    "loads_call",
    "loads_response",
]

#: Largest body accepted by the ``loads_*`` functions unless told otherwise: 1 MiB.
DEFAULT_MAX_SIZE = 1024 * 1024
#: Deepest nesting of structs and arrays accepted (and produced).
DEFAULT_MAX_DEPTH = 64

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
# XML 1.0 cannot carry these characters at all, not even as character references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_METHOD_NAME = re.compile(r"[A-Za-z0-9_.:/]+\Z")
_INTEGER = re.compile(r"[+-]?[0-9]{1,20}\Z")
_DOUBLE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?\Z")
_DATETIME = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.(\d{1,6})\d*)?\Z", re.ASCII
)
_HEADER = '<?xml version="1.0"?>\n'
_FALSE = "<value><boolean>0</boolean></value>"

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_pis=True,
    remove_comments=True,
    collect_ids=False,
)


class _Invalid(Exception):
    """A problem found deep in a value; the path is collected while the stack unwinds."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []

    def at(self, root: str) -> CodecError:
        return CodecError(f"{root}{''.join(reversed(self.path))}: {self.problem}")


# ---------------------------------------------------------------------------------- encoding


def _escape(text: str) -> str:
    if text.isalnum():  # the common case ("ok", "menu", digits): nothing to escape or refuse
        return text
    bad = _NOT_XML.search(text)
    if bad is not None:
        raise _Invalid(
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
    if _INT32[0] <= value <= _INT32[1]:
        out.append(f"<value><int>{value}</int></value>")
    elif _INT64[0] <= value <= _INT64[1]:
        out.append(f"<value><i8>{value}</i8></value>")
    else:
        raise _Invalid(f"cannot encode {value}: integers are limited to 64 bits")


def _encode_bool(value: bool, out: list[str], depth: int) -> None:
    out.append("<value><boolean>1</boolean></value>" if value else _FALSE)


def _encode_double(value: float, out: list[str], depth: int) -> None:
    if not math.isfinite(value):
        raise _Invalid(f"cannot encode the double {value!r}: XML-RPC has no NaN or infinity")
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
        raise _Invalid(f"nested deeper than {DEFAULT_MAX_DEPTH} levels (a cycle?)")
    append, encoders = out.append, _ENCODERS
    append("<value><struct>")
    for key, member in value.items():
        if not isinstance(key, str):
            raise _Invalid(f"struct member {key!r} is a {type(key).__name__}, not a string")
        append(f"<member><name>{_escape(str.__str__(key))}</name>")
        try:
            encoders.get(type(member), _encode_subclass)(member, out, depth + 1)
        except _Invalid as problem:
            problem.path.append(f".{key}")
            raise
        append("</member>")
    append("</struct></value>")


def _encode_array(value: Sequence[object], out: list[str], depth: int) -> None:
    if depth >= DEFAULT_MAX_DEPTH:
        raise _Invalid(f"nested deeper than {DEFAULT_MAX_DEPTH} levels (a cycle?)")
    append, encoders = out.append, _ENCODERS
    append("<value><array><data>")
    for index, item in enumerate(value):
        try:
            encoders.get(type(item), _encode_subclass)(item, out, depth + 1)
        except _Invalid as problem:
            problem.path.append(f"[{index}]")
            raise
    append("</data></array></value>")


def _encode_subclass(value: object, out: list[str], depth: int) -> None:
    for kind, encoder, convert in _SUBCLASSES:
        if isinstance(value, kind):
            encoder(convert(value), out, depth)
            return
    raise _Invalid(f"cannot encode a {type(value).__name__} in XML-RPC")


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
    if not _METHOD_NAME.match(method):
        raise CodecError(f"method name {method!r} is not valid: use letters, digits and _.:/")
    out = [_HEADER, f"<methodCall><methodName>{method}</methodName><params>"]
    for index, param in enumerate(params):
        out.append("<param>")
        try:
            _encode(param, out, 0)
        except _Invalid as problem:
            raise problem.at(f"params[{index}]") from None
        out.append("</param>")
    out.append("</params></methodCall>")
    return "".join(out).encode("utf-8")


def dumps_response(value: object) -> bytes:
    """Encode a successful ``methodResponse`` carrying ``value``."""
    out = [_HEADER, "<methodResponse><params><param>"]
    try:
        _encode(value, out, 0)
    except _Invalid as problem:
        raise problem.at("response") from None
    out.append("</param></params></methodResponse>")
    return "".join(out).encode("utf-8")


def dumps_fault(code: int, message: str) -> bytes:
    """Encode a fault ``methodResponse`` with ``faultCode`` and ``faultString``."""
    out = [_HEADER, "<methodResponse><fault>"]
    try:
        _encode({"faultCode": code, "faultString": message}, out, 0)
    except _Invalid as problem:
        raise problem.at("fault") from None
    out.append("</fault></methodResponse>")
    return "".join(out).encode("utf-8")


# ---------------------------------------------------------------------------------- decoding


def _refuse_doctype(body: bytes) -> None:
    """Refuse a DOCTYPE in the prolog before libxml2 sees it (it may try to load a DTD file).

    Only the prolog is scanned (XML declaration, comments, processing instructions), so text
    in the document, even in a CDATA section, is never mistaken for a DOCTYPE.
    """
    position = 3 if body.startswith(b"\xef\xbb\xbf") else 0
    while True:
        start = body.find(b"<", position)
        if start < 0 or body[position:start].strip():
            raise CodecError("not an XML document in UTF-8 (or another ASCII-based encoding)")
        if body.startswith(b"<?", start):
            end, skip = body.find(b"?>", start + 2), 2
        elif body.startswith(b"<!--", start):
            end, skip = body.find(b"-->", start + 4), 3
        elif body.startswith(b"<!", start):
            raise CodecError("a document with a DOCTYPE is refused (no DTD or entity is allowed)")
        else:
            return
        if end < 0:
            return  # unterminated: the parser reports it
        position = end + skip


def _parse(body: bytes, max_size: int, root_tag: str) -> etree._Element:
    if len(body) > max_size:
        raise BodyTooLarge(len(body), max_size)
    _refuse_doctype(body)
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as error:
        if "prefix ex " not in str(error):
            raise CodecError(f"not well-formed XML: {error}") from None
        # Apache's <ex:nil/> is often sent without declaring its namespace prefix.
        try:
            root = etree.fromstring(body.replace(b"<ex:nil/>", b"<nil/>"), _PARSER)
        except etree.XMLSyntaxError as again:
            raise CodecError(f"not well-formed XML: {again}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise CodecError("a document with a DOCTYPE is refused (no DTD or entity is allowed)")
    if root.tag != root_tag:
        raise CodecError(f"expected a <{root_tag}> document, got <{root.tag}>")
    return root


def _text(element: etree._Element) -> str:
    if len(element):
        raise _Invalid(f"<{element.tag}> holds an element <{element[0].tag}>, expected text")
    return element.text or ""


def _decode_int(element: etree._Element, depth: int) -> object:
    text = _text(element).strip()
    if not _INTEGER.match(text):
        raise _Invalid(f"<{element.tag}> holds {text[:40]!r}, not an integer")
    value = int(text)
    if not _INT64[0] <= value <= _INT64[1]:
        raise _Invalid(f"<{element.tag}> holds {text}, beyond 64 bits")
    return value


def _decode_boolean(element: etree._Element, depth: int) -> object:
    text = _text(element).strip()
    if text == "1":
        return True
    if text == "0":
        return False
    raise _Invalid(f"<boolean> holds {text[:40]!r}, not 0 or 1")


def _decode_string(element: etree._Element, depth: int) -> object:
    return _text(element)


def _decode_double(element: etree._Element, depth: int) -> object:
    text = _text(element).strip()
    if not _DOUBLE.match(text):
        raise _Invalid(f"<double> holds {text[:40]!r}, not a finite number")
    value = float(text)
    if not math.isfinite(value):
        raise _Invalid(f"<double> holds {text[:40]!r}, out of range")
    return value


def _decode_datetime(element: etree._Element, depth: int) -> object:
    text = _text(element).strip()
    match = _DATETIME.match(text)
    try:
        if match is None:
            raise ValueError("not in the form 20261122T10:00:00")
        fraction = (match.group(7) or "0").ljust(6, "0")
        year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
        return datetime(year, month, day, hour, minute, second, int(fraction))
    except ValueError as error:
        raise _Invalid(f"<dateTime.iso8601> holds {text[:40]!r}: {error}") from None


def _decode_base64(element: etree._Element, depth: int) -> object:
    text = "".join(_text(element).split())
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise _Invalid(f"<base64> holds invalid base64: {error}") from None


def _decode_nil(element: etree._Element, depth: int) -> object:
    if len(element) or (element.text or "").strip():
        raise _Invalid("<nil/> must be empty")
    return None


def _decode_struct(element: etree._Element, depth: int) -> object:
    if depth >= DEFAULT_MAX_DEPTH:
        raise _Invalid(f"nested deeper than {DEFAULT_MAX_DEPTH} levels")
    result: dict[str, object] = {}
    for index, member in enumerate(element):
        if member.tag != "member" or len(member) != 2:
            raise _Invalid(f"<struct> item {index} is not a <member> with <name> and <value>")
        name_element, value_element = member
        if name_element.tag != "name" or value_element.tag != "value":
            raise _Invalid(f"<struct> item {index} is not a <member> with <name> and <value>")
        name = name_element.text or ""
        try:
            result[name] = _decode_value(value_element, depth + 1)
        except _Invalid as problem:
            problem.path.append(f".{name}")
            raise
    return result


def _decode_array(element: etree._Element, depth: int) -> object:
    if depth >= DEFAULT_MAX_DEPTH:
        raise _Invalid(f"nested deeper than {DEFAULT_MAX_DEPTH} levels")
    if len(element) != 1 or element[0].tag != "data":
        raise _Invalid("<array> must hold exactly one <data>")
    result: list[object] = []
    for index, value_element in enumerate(element[0]):
        try:
            result.append(_decode_value(value_element, depth + 1))
        except _Invalid as problem:
            problem.path.append(f"[{index}]")
            raise
    return result


_DECODERS: dict[object, Callable[[etree._Element, int], object]] = {
    "string": _decode_string,
    "int": _decode_int,
    "i4": _decode_int,
    "i8": _decode_int,
    "boolean": _decode_boolean,
    "double": _decode_double,
    "dateTime.iso8601": _decode_datetime,
    "base64": _decode_base64,
    "struct": _decode_struct,
    "array": _decode_array,
    "nil": _decode_nil,
}


def _decode_value(element: etree._Element, depth: int) -> object:
    if element.tag != "value":
        raise _Invalid(f"expected <value>, got <{element.tag}>")
    if not len(element):
        return element.text or ""  # no type element: a string, whitespace and all
    typed = element[0]
    decoder = _DECODERS.get(typed.tag)
    if decoder is None:
        tag = typed.tag
        if not isinstance(tag, str) or not tag.endswith("}nil"):
            raise _Invalid(f"unknown type <{tag}>")
        decoder = _decode_nil
    if len(element) > 1:
        raise _Invalid(f"<value> holds <{typed.tag}> and <{element[1].tag}>, expected one type")
    if (element.text or "").strip() or (typed.tail or "").strip():
        raise _Invalid(f"<value> holds text beside <{typed.tag}>")
    return decoder(typed, depth)


def _decode_params(params: etree._Element) -> list[object]:
    values: list[object] = []
    for index, param in enumerate(params):
        if param.tag != "param" or len(param) != 1:
            raise CodecError(f"params[{index}]: expected a <param> holding one <value>")
        try:
            values.append(_decode_value(param[0], 0))
        except _Invalid as problem:
            raise problem.at(f"params[{index}]") from None
    return values


def loads_call(body: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> tuple[str, list[object]]:
    """Decode a ``methodCall``: return ``(method name, params)``.

    Raises :class:`BodyTooLarge` over ``max_size`` bytes, :class:`CodecError` otherwise.
    """
    root = _parse(body, max_size, "methodCall")
    children = list(root)
    if not children or children[0].tag != "methodName" or len(children) > 2:
        raise CodecError("a <methodCall> holds a <methodName> and optionally <params>")
    method = (children[0].text or "").strip()
    if not _METHOD_NAME.match(method):
        raise CodecError(f"method name {method[:80]!r} is not valid: use letters, digits and _.:/")
    if len(children) == 1:
        return method, []
    if children[1].tag != "params":
        raise CodecError(f"expected <params> after <methodName>, got <{children[1].tag}>")
    return method, _decode_params(children[1])


def loads_response(body: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> object:
    """Decode a ``methodResponse``: return its value, or raise :class:`Fault` for a fault.

    Raises :class:`BodyTooLarge` over ``max_size`` bytes, :class:`CodecError` otherwise.
    """
    root = _parse(body, max_size, "methodResponse")
    if len(root) != 1:
        raise CodecError("a <methodResponse> holds exactly one <params> or <fault>")
    content = root[0]
    if content.tag == "params":
        values = _decode_params(content)
        if len(values) != 1:
            raise CodecError(f"a response holds exactly one <param>, got {len(values)}")
        return values[0]
    if content.tag != "fault" or len(content) != 1:
        raise CodecError(f"expected <params> or <fault> in <methodResponse>, got <{content.tag}>")
    try:
        fault = _decode_value(content[0], 0)
    except _Invalid as problem:
        raise problem.at("fault") from None
    if not isinstance(fault, dict):
        raise CodecError("fault: expected a struct with faultCode and faultString")
    code, message = fault.get("faultCode"), fault.get("faultString")
    if type(code) is not int or not isinstance(message, str):
        raise CodecError("fault: expected faultCode (int) and faultString (string)")
    raise Fault(code, message)
