"""Hostile XML is refused quickly and without side effects (no entity, no DTD, no network)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gtx.xmlrpc.codec import loads_call, loads_response
from gtx.xmlrpc.errors import CodecError

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodCall><methodName>m</methodName><params><param><value>&lol9;</value></param></params>
</methodCall>"""


def _with_secret_file(tmp_path: Path) -> str:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    return secret.as_uri()


def hostile_bodies(tmp_path: Path) -> dict[str, bytes]:
    uri = _with_secret_file(tmp_path)
    value = "<methodCall><methodName>m</methodName><params><param><value>{}</value></param>"
    tail = "</params></methodCall>"
    return {
        "billion laughs": BILLION_LAUGHS,
        "external entity": (
            f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY xxe SYSTEM "{uri}">]>'
            + value.format("&xxe;")
            + tail
        ).encode(),
        "parameter entity": (
            f'<!DOCTYPE m [<!ENTITY % remote SYSTEM "{uri}"> %remote;]>' + value.format("x") + tail
        ).encode(),
        "external DTD over the network": (
            '<!DOCTYPE m SYSTEM "http://127.0.0.1:9/evil.dtd">' + value.format("x") + tail
        ).encode(),
        "external DTD from a file": (
            '<!DOCTYPE m SYSTEM "/dev/zero">' + value.format("x") + tail
        ).encode(),
        "DOCTYPE after a comment and a PI": (
            "<?xml version='1.0'?><!-- hi --><?pi x?>\n<!DOCTYPE m>" + value.format("x") + tail
        ).encode(),
        "undefined entity": (value.format("&xxe;") + tail).encode(),
    }


@pytest.mark.parametrize(
    "case",
    [
        "billion laughs",
        "external entity",
        "parameter entity",
        "external DTD over the network",
        "external DTD from a file",
        "DOCTYPE after a comment and a PI",
        "undefined entity",
    ],
)
def test_hostile_documents_are_refused_fast(tmp_path: Path, case: str) -> None:
    body = hostile_bodies(tmp_path)[case]
    started = time.perf_counter()
    with pytest.raises(CodecError) as caught:
        loads_call(body)
    assert time.perf_counter() - started < 0.5
    assert "TOP-SECRET" not in str(caught.value)
    expected = "not well-formed XML" if case == "undefined entity" else "DOCTYPE is refused"
    assert expected in str(caught.value)


def test_doctype_text_inside_a_string_is_only_text() -> None:
    body = (
        b"<methodResponse><params><param><value><string><![CDATA[<!DOCTYPE x>]]></string>"
        b"</value></param></params></methodResponse>"
    )
    assert loads_response(body) == "<!DOCTYPE x>"


def test_processing_instructions_and_comments_are_dropped() -> None:
    body = (
        b"<?xml version='1.0'?><!-- c --><methodResponse><params><param><value><int>1<?pi?>2"
        b"</int><!-- inside --></value></param></params></methodResponse>"
    )
    assert loads_response(body) == 12


def test_character_references_are_decoded() -> None:
    body = b"<methodResponse><params><param><value>&#13;&#x263A;&amp;</value></param></params>"
    assert loads_response(body + b"</methodResponse>") == "\r\u263a&"


def test_the_parser_itself_never_expands_or_loads_entities(tmp_path: Path) -> None:
    """Second line of defence: even past the prolog check, libxml2 resolves nothing."""
    from lxml import etree

    from gtx.xmlrpc._decode import _PARSER

    started = time.perf_counter()
    root = etree.fromstring(hostile_bodies(tmp_path)["external entity"], _PARSER)
    assert b"TOP-SECRET" not in etree.tostring(root)
    with pytest.raises(etree.XMLSyntaxError, match="amplification"):
        etree.fromstring(BILLION_LAUGHS, _PARSER)
    assert time.perf_counter() - started < 0.5
