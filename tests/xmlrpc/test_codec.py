"""Example tests of the XML-RPC codec: every type, both directions, and every error."""

from __future__ import annotations

import enum
import re
import xmlrpc.client
from collections import OrderedDict
from datetime import UTC, datetime

import pytest

from gtx.xmlrpc.codec import (
    DEFAULT_MAX_DEPTH,
    dumps_call,
    dumps_fault,
    dumps_response,
    loads_call,
    loads_response,
)
from gtx.xmlrpc.errors import BodyTooLarge, CodecError, Fault


def response(value_xml: str) -> bytes:
    return (
        "<?xml version='1.0'?><methodResponse><params><param>"
        f"<value>{value_xml}</value></param></params></methodResponse>"
    ).encode()


def call(method: str, *values_xml: str) -> bytes:
    params = "".join(f"<param><value>{value}</value></param>" for value in values_xml)
    return (
        f"<methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>"
    ).encode()


class Colour(enum.IntEnum):
    RED = 1


class Digit(str):
    """A str subclass whose str() is not its value, like a (str, Enum) mixin."""

    def __str__(self) -> str:
        return "Digit.STAR"


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<int>42</int>", 42),
        ("<i4>-7</i4>", -7),
        ("<i8>9223372036854775807</i8>", 2**63 - 1),
        ("<int> +12 </int>", 12),
        ("<boolean>1</boolean>", True),
        ("<boolean>0</boolean>", False),
        ("<string>a &amp; b &lt;c&gt;</string>", "a & b <c>"),
        ("<string/>", ""),
        ("  spaced out  ", "  spaced out  "),
        ("", ""),
        ("<double>1.5</double>", 1.5),
        ("<double>-1e+300</double>", -1e300),
        ("<double>.5</double>", 0.5),
        ("<dateTime.iso8601>20261122T10:00:00</dateTime.iso8601>", datetime(2026, 11, 22, 10)),
        ("<dateTime.iso8601>2026-11-22T10:00:00</dateTime.iso8601>", datetime(2026, 11, 22, 10)),
        ("<dateTime.iso8601>20261122T100005</dateTime.iso8601>", datetime(2026, 11, 22, 10, 0, 5)),
        (
            "<dateTime.iso8601> 2026-11-22T10:00:00.25 </dateTime.iso8601>",
            datetime(2026, 11, 22, 10, 0, 0, 250000),
        ),
        ("<base64>aGVs\nbG8=</base64>", b"hello"),
        ("<base64></base64>", b""),
        ("<nil/>", None),
        ('<ex:nil xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"/>', None),
        ("<ex:nil/>", None),
        ("<array><data/></array>", []),
        ("<array><data><value>a</value><value><int>1</int></value></data></array>", ["a", 1]),
        ("<struct/>", {}),
        (
            "<struct>\n  <member><name>n</name><value><i4>1</i4></value></member>\n</struct>",
            {"n": 1},
        ),
        ("\n  <int>5</int>\n", 5),
    ],
)
def test_decodes_every_type(xml: str, expected: object) -> None:
    value = loads_response(response(xml))
    assert value == expected
    assert type(value) is type(expected)


def test_decodes_like_the_standard_library() -> None:
    body = xmlrpc.client.dumps(
        ({"a": [1, 2.5, True, None, b"\x00\xff", "x < y"], "when": datetime(2026, 1, 2, 3, 4, 5)},),
        methodresponse=True,
        allow_none=True,
    ).encode()
    assert loads_response(body) == xmlrpc.client.loads(body, use_builtin_types=True)[0][0]


def test_call_round_trip_and_method_name() -> None:
    body = dumps_call("menu.step", [{"step": 1, "args": ("a", "b")}, 2])
    assert loads_call(body) == ("menu.step", [{"step": 1, "args": ["a", "b"]}, 2])
    assert xmlrpc.client.loads(body) == (({"step": 1, "args": ["a", "b"]}, 2), "menu.step")


def test_call_without_params() -> None:
    assert loads_call(b"<methodCall><methodName>system.listMethods</methodName></methodCall>") == (
        "system.listMethods",
        [],
    )


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (2**31 - 1, "<int>2147483647</int>"),
        (-(2**31), "<int>-2147483648</int>"),
        (2**31, "<i8>2147483648</i8>"),
        (-(2**63), "<i8>-9223372036854775808</i8>"),
        (True, "<boolean>1</boolean>"),
        (Colour.RED, "<int>1</int>"),
        (Digit("*"), "<string>*</string>"),
        (0.1, "<double>0.1</double>"),
        ("a&b<c>d\r", "<string>a&amp;b&lt;c&gt;d&#13;</string>"),
        ("é漢字😀", "<string>é漢字😀</string>"),
        (None, "<nil/>"),
        (b"hello", "<base64>aGVsbG8=</base64>"),
        (bytearray(b"hi"), "<base64>aGk=</base64>"),
        (datetime(2026, 11, 22, 10, 0, 5, 999), "<dateTime.iso8601>20261122T10:00:05<"),
        (datetime(2026, 11, 22, 10, tzinfo=UTC), "<dateTime.iso8601>20261122T10:00:00<"),
        (OrderedDict(b=1), "<member><name>b</name><value><int>1</int></value></member>"),
        ((1,), "<array><data><value><int>1</int></value></data></array>"),
    ],
)
def test_encodes_every_type(value: object, fragment: str) -> None:
    body = dumps_response(value)
    assert fragment in body.decode()
    assert body.startswith(b'<?xml version="1.0"?>')


def test_encoded_datetime_matches_the_standard_library() -> None:
    when = datetime(2026, 11, 22, 10, 0, 5)
    assert xmlrpc.client.loads(dumps_response(when), use_builtin_types=True)[0][0] == when
    assert loads_response(dumps_response(when)) == when


def test_fault_round_trip() -> None:
    with pytest.raises(Fault) as caught:
        loads_response(dumps_fault(-32601, "no method 'x.y'"))
    assert (caught.value.code, caught.value.message) == (-32601, "no method 'x.y'")
    with pytest.raises(xmlrpc.client.Fault):
        xmlrpc.client.loads(dumps_fault(4, "four"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "response: cannot encode the double nan: XML-RPC has no NaN or infinity"),
        ({"x": [float("inf")]}, "response.x[0]: cannot encode the double inf"),
        (2**63, "response: cannot encode 9223372036854775808: integers are limited to 64 bits"),
        ({1: "a"}, "response: struct member 1 is a int, not a string"),

        ({"a": {("k",): 1}}, "response.a: struct member ('k',) is a tuple, not a string"),
        ("bell\x07", "response: cannot encode character U+0007 at index 4"),
        ({"v": "\ud800"}, "response.v: cannot encode character U+D800"),
        ({"k\x00": 1}, "response: cannot encode character U+0000"),
        (object(), "response: cannot encode a object in XML-RPC"),
        ({1, 2}, "response: cannot encode a set in XML-RPC"),
    ],
)
def test_encode_errors_say_what_and_where(value: object, message: str) -> None:
    with pytest.raises(CodecError, match="^" + re.escape(message)):
        dumps_response(value)


def test_encode_refuses_cycles_and_deep_nesting() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(CodecError, match=f"nested deeper than {DEFAULT_MAX_DEPTH} levels"):
        dumps_response(loop)


def test_encode_errors_in_a_call_name_the_param() -> None:
    with pytest.raises(CodecError, match=r"^params\[1\]\.vars\.x: cannot encode the double nan"):
        dumps_call("menu.step", [1, {"vars": {"x": float("nan")}}])
    with pytest.raises(CodecError, match="method name 'bad name' is not valid"):
        dumps_call("bad name", [])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (call("m", "<struct><member><name>vars</name><value><struct><member><name>x</name>"
                   "<value><int>abc</int></value></member></struct></value></member></struct>"),
         r"params\[0\]\.vars\.x: <int> holds 'abc', not an integer"),
        (call("m", "<int/>", "<array><data><value><i4>1.5</i4></value></data></array>"),
         r"params\[0\]: <int> holds '', not an integer"),
        (call("m", "<int>1</int>", "<array><data><value><i4>1.5</i4></value></data></array>"),
         r"params\[1\]\[0\]: <i4> holds '1.5', not an integer"),
        (call("m", "<i8>9223372036854775808</i8>"), r"params\[0\]: <i8> holds .*beyond 64 bits"),
        (call("m", "<boolean>true</boolean>"), r"params\[0\]: <boolean> holds 'true', not 0 or 1"),
        (call("m", "<double>nan</double>"), r"<double> holds 'nan', not a finite number"),
        (call("m", "<double>1e999</double>"), r"<double> holds '1e999', out of range"),
        (call("m", "<dateTime.iso8601>2026-13-01T00:00:00</dateTime.iso8601>"),
         r"<dateTime.iso8601> holds '2026-13-01T00:00:00': month must be in 1..12"),
        (call("m", "<dateTime.iso8601>tomorrow</dateTime.iso8601>"),
         r"<dateTime.iso8601> holds 'tomorrow': not in the form 20261122T10:00:00"),
        (call("m", "<base64>a=b</base64>"), r"<base64> holds invalid base64"),
        (call("m", "<nil>x</nil>"), r"<nil/> must be empty"),
        (call("m", "<float>1</float>"), r"params\[0\]: unknown type <float>"),
        (call("m", "<int>1</int><int>2</int>"), r"<value> holds <int> and <int>, expected one"),
        (call("m", "x<int>1</int>"), r"<value> holds text beside <int>"),
        (call("m", "<string><b/></string>"), r"<string> holds an element <b>, expected text"),
        (call("m", "<struct><member><name>a</name></member></struct>"),
         r"<struct> item 0 is not a <member> with <name> and <value>"),
        (call("m", "<struct><member><value/><name>a</name></member></struct>"),
         r"<struct> item 0 is not a <member>"),
        (call("m", "<array><value/></array>"), r"<array> must hold exactly one <data>"),
        (call("m", "<array><data><int>1</int></data></array>"),
         r"params\[0\]\[0\]: expected <value>, got <int>"),
        (b"<methodCall><methodName>m</methodName><params><param/></params></methodCall>",
         r"params\[0\]: expected a <param> holding one <value>"),
        (b"<methodCall><params/></methodCall>", r"a <methodCall> holds a <methodName>"),
        (b"<methodCall><methodName>a b</methodName></methodCall>", r"method name 'a b' is not"),
        (b"<methodCall><methodName>m</methodName><param/></methodCall>",
         r"expected <params> after <methodName>, got <param>"),
        (b"<methodResponse/>", r"expected a <methodCall> document, got <methodResponse>"),
        (b"<methodCall><methodName>m</methodName>", r"not well-formed XML"),
        (b"", r"not an XML document"),
        (b"hello", r"not an XML document"),
        ("<?xml version='1.0' encoding='UTF-16'?><methodCall/>".encode("utf-16"),
         r"not an XML document"),
    ],
)
def test_decode_errors_say_what_and_where(body: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        loads_call(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<methodResponse><params/></methodResponse>", r"exactly one <param>, got 0"),
        (b"<methodResponse/>", r"holds exactly one <params> or <fault>"),
        (b"<methodResponse><oops/></methodResponse>", r"expected <params> or <fault>"),
        (b"<methodResponse><fault><value><int>1</int></value></fault></methodResponse>",
         r"fault: expected a struct with faultCode and faultString"),
        (b"<methodResponse><fault><value><struct/></value></fault></methodResponse>",
         r"fault: expected faultCode \(int\) and faultString \(string\)"),
        (b"<methodResponse><fault><value><int>x</int></value></fault></methodResponse>",
         r"fault: <int> holds 'x'"),
    ],
)
def test_response_errors(body: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        loads_response(body)


def test_decode_refuses_deep_nesting() -> None:
    deep = "<array><data><value>" * (DEFAULT_MAX_DEPTH + 1) + "</value></data></array>" * (
        DEFAULT_MAX_DEPTH + 1
    )
    with pytest.raises(CodecError, match=f"nested deeper than {DEFAULT_MAX_DEPTH} levels"):
        loads_response(response(deep))
    fine = "<array><data><value>" * 10 + "</value></data></array>" * 10
    assert loads_response(response(fine)) is not None


def test_size_is_checked_before_parsing() -> None:
    body = response("<string>" + "x" * 100 + "</string>")
    with pytest.raises(BodyTooLarge) as caught:
        loads_response(body, max_size=100)
    assert (caught.value.size, caught.value.limit) == (len(body), 100)
    assert loads_response(body, max_size=len(body)) == "x" * 100
    with pytest.raises(BodyTooLarge):
        loads_call(b"<" * (1024 * 1024 + 1))
