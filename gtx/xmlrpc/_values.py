"""What the XML-RPC encoder and decoder share: limits, lexical rules, the path-carrying error."""

from __future__ import annotations

import re

from gtx.xmlrpc.errors import CodecError

#: Largest body accepted by the ``loads_*`` functions unless told otherwise: 1 MiB.
DEFAULT_MAX_SIZE = 1024 * 1024
#: Deepest nesting of structs and arrays accepted (and produced).
DEFAULT_MAX_DEPTH = 64

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
# XML 1.0 cannot carry these characters at all, not even as character references.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
METHOD_NAME = re.compile(r"[A-Za-z0-9_.:/]+\Z")


class Invalid(Exception):
    """A problem found deep in a value; the path is collected while the stack unwinds."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []

    def at(self, root: str) -> CodecError:
        return CodecError(f"{root}{''.join(reversed(self.path))}: {self.problem}")
