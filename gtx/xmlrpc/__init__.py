"""The XML-RPC layer: a hardened codec, a keep-alive client, and the server resource.

- :mod:`gtx.xmlrpc.codec` — ``dumps_call``, ``dumps_response``, ``dumps_fault``, ``loads_call``,
  ``loads_response`` (lxml; no DTD, no entities, size and depth limits).
- :mod:`gtx.xmlrpc.client` — ``XMLRPCClient``: calls web services over persistent connections.
- :mod:`gtx.xmlrpc.server` — ``XMLRPCResource``, ``xmlrpc_method``, ``CallContext``.
- :mod:`gtx.xmlrpc.signing` — the HMAC request signature (``sign``, ``verify``).
- :mod:`gtx.xmlrpc.errors` — the layer's errors.
"""
