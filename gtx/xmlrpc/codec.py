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

from gtx.xmlrpc._decode import loads_call, loads_response
from gtx.xmlrpc._encode import dumps_call, dumps_fault, dumps_response
from gtx.xmlrpc._values import DEFAULT_MAX_DEPTH, DEFAULT_MAX_SIZE

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_SIZE",
    "dumps_call",
    "dumps_fault",
    "dumps_response",
    "loads_call",
    "loads_response",
]
