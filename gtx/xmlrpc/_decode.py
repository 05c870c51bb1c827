"""XML-RPC decoding: hardened parsing of XML-RPC bodies (see :mod:`gtx.xmlrpc.codec`)."""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from datetime import datetime

from lxml import etree

from gtx.xmlrpc._values import DEFAULT_MAX_DEPTH, DEFAULT_MAX_SIZE, INT64, METHOD_NAME, Invalid
from gtx.xmlrpc.errors import BodyTooLarge, CodecError, Fault

_INTEGER = re.compile(r"[+-]?[0-9]{1,20}\Z")
_DOUBLE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?\Z")
_DATETIME = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.(\d{1,6})\d*)?\Z", re.ASCII
)

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
        raise Invalid(f"<{element.tag}> holds an element <{element[0].tag}>, expected text")
    return element.text or ""


def _decode_int(element: etree._Element, depth: int) -> object:
    text = _text(element).strip()
    if not _INTEGER.match(text):
        raise Invalid(f"<{element.tag}> holds {text[:40]!r}, not an integer")
    value = int(text)
    if not INT64[0] <= value <= INT64[1]:
        raise Invalid(f"<{element.tag}> holds {text}, beyond 64 bits")
    return value


def _decode_boolean(element: etree._Element, depth: int) -> object:
    text = _text(element).strip()
    if text == "1":
        return True
    if text == "0":
        return False
    raise Invalid(f"<boolean> holds {text[:40]!r}, not 0 or 1")


def _decode_string(element: etree._Element, depth: int) -> object:
    return _text(element)


def _decode_double(element: etree._Element, depth: int) -> object:
    text = _text(element).strip()
    if not _DOUBLE.match(text):
        raise Invalid(f"<double> holds {text[:40]!r}, not a finite number")
    value = float(text)
    if not math.isfinite(value):
        raise Invalid(f"<double> holds {text[:40]!r}, out of range")
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
        raise Invalid(f"<dateTime.iso8601> holds {text[:40]!r}: {error}") from None


def _decode_base64(element: etree._Element, depth: int) -> object:
    text = "".join(_text(element).split())
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise Invalid(f"<base64> holds invalid base64: {error}") from None


def _decode_nil(element: etree._Element, depth: int) -> object:
    if len(element) or (element.text or "").strip():
        raise Invalid("<nil/> must be empty")
    return None


def _decode_struct(element: etree._Element, depth: int) -> object:
    if depth >= DEFAULT_MAX_DEPTH:
        raise Invalid(f"nested deeper than {DEFAULT_MAX_DEPTH} levels")
    result: dict[str, object] = {}
    for index, member in enumerate(element):
        if member.tag != "member" or len(member) != 2:
            raise Invalid(f"<struct> item {index} is not a <member> with <name> and <value>")
        name_element, value_element = member
        if name_element.tag != "name" or value_element.tag != "value":
            raise Invalid(f"<struct> item {index} is not a <member> with <name> and <value>")
        name = name_element.text or ""
        try:
            result[name] = _decode_value(value_element, depth + 1)
        except Invalid as problem:
            problem.path.append(f".{name}")
            raise
    return result


def _decode_array(element: etree._Element, depth: int) -> object:
    if depth >= DEFAULT_MAX_DEPTH:
        raise Invalid(f"nested deeper than {DEFAULT_MAX_DEPTH} levels")
    if len(element) != 1 or element[0].tag != "data":
        raise Invalid("<array> must hold exactly one <data>")
    result: list[object] = []
    for index, value_element in enumerate(element[0]):
        try:
            result.append(_decode_value(value_element, depth + 1))
        except Invalid as problem:
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
        raise Invalid(f"expected <value>, got <{element.tag}>")
    if not len(element):
        return element.text or ""  # no type element: a string, whitespace and all
    typed = element[0]
    decoder = _DECODERS.get(typed.tag)
    if decoder is None:
        tag = typed.tag
        if not isinstance(tag, str) or not tag.endswith("}nil"):
            raise Invalid(f"unknown type <{tag}>")
        decoder = _decode_nil
    if len(element) > 1:
        raise Invalid(f"<value> holds <{typed.tag}> and <{element[1].tag}>, expected one type")
    if (element.text or "").strip() or (typed.tail or "").strip():
        raise Invalid(f"<value> holds text beside <{typed.tag}>")
    return decoder(typed, depth)


def _decode_params(params: etree._Element) -> list[object]:
    values: list[object] = []
    for index, param in enumerate(params):
        if param.tag != "param" or len(param) != 1:
            raise CodecError(f"params[{index}]: expected a <param> holding one <value>")
        try:
            values.append(_decode_value(param[0], 0))
        except Invalid as problem:
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
    if not METHOD_NAME.match(method):
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
    except Invalid as problem:
        raise problem.at("fault") from None
    if not isinstance(fault, dict):
        raise CodecError("fault: expected a struct with faultCode and faultString")
    code, message = fault.get("faultCode"), fault.get("faultString")
    if type(code) is not int or not isinstance(message, str):
        raise CodecError("fault: expected faultCode (int) and faultString (string)")
    raise Fault(code, message)
