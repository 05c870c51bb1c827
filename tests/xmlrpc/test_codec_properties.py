"""Property tests: gtx ↔ gtx and gtx ↔ the standard library agree on every value."""

from __future__ import annotations

import xmlrpc.client
from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from gtx.xmlrpc.codec import dumps_call, dumps_response, loads_call, loads_response

# Characters XML 1.0 can carry.
XML_TEXT = st.text(
    st.characters(
        codec="utf-8",
        exclude_categories=("Cs",),
        exclude_characters="".join(chr(c) for c in range(32) if c not in (9, 10, 13))
        + "\ufffe\uffff",
    ),
    max_size=30,
)
# The standard library writes \r raw, and XML parsers turn a raw \r into \n.
STDLIB_TEXT = XML_TEXT.map(lambda text: text.replace("\r", ""))


def values(text: st.SearchStrategy[str], integers: st.SearchStrategy[int]) -> st.SearchStrategy:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        integers,
        st.floats(allow_nan=False, allow_infinity=False),
        text,
        st.binary(max_size=40),
        st.datetimes(min_value=datetime(1000, 1, 1)).map(lambda when: when.replace(microsecond=0)),
    )
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=5)
        | st.dictionaries(text, children, max_size=5),
        max_leaves=20,
    )


GTX_VALUES = values(XML_TEXT, st.integers(-(2**63), 2**63 - 1))
# The standard library cannot encode integers beyond 32 bits.
STDLIB_VALUES = values(STDLIB_TEXT, st.integers(-(2**31), 2**31 - 1))
METHOD = st.from_regex(r"[A-Za-z0-9_.:/]{1,20}", fullmatch=True)


@given(GTX_VALUES)
def test_response_round_trip(value: object) -> None:
    assert loads_response(dumps_response(value)) == value


@given(METHOD, st.lists(GTX_VALUES, max_size=4))
def test_call_round_trip(method: str, params: list[object]) -> None:
    assert loads_call(dumps_call(method, params)) == (method, params)


@given(GTX_VALUES)
def test_the_standard_library_reads_what_gtx_writes(value: object) -> None:
    (decoded,), _ = xmlrpc.client.loads(dumps_response(value), use_builtin_types=True)
    assert decoded == value


@given(METHOD, st.lists(GTX_VALUES, max_size=4))
def test_the_standard_library_reads_gtx_calls(method: str, params: list[object]) -> None:
    decoded, name = xmlrpc.client.loads(dumps_call(method, params), use_builtin_types=True)
    assert (name, list(decoded)) == (method, params)


@given(STDLIB_VALUES)
def test_gtx_reads_what_the_standard_library_writes(value: object) -> None:
    body = xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True)
    assert loads_response(body.encode("utf-8")) == value


@given(METHOD, st.lists(STDLIB_VALUES, max_size=4))
def test_gtx_reads_standard_library_calls(method: str, params: list[object]) -> None:
    body = xmlrpc.client.dumps(tuple(params), method, allow_none=True)
    assert loads_call(body.encode("utf-8")) == (method, params)
