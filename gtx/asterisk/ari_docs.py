"""Asterisk's Swagger listings (``/ari/api-docs``), loaded under ``ari_url``.

Asterisk writes each listing's ``basePath`` from the request's ``Host`` header, always as
``http://HOST[prefix]/ari`` (``ast_ari_get_docs`` in res_ari.c), and aioswagger11 fetches the
API declarations, then sends every request, under that ``basePath``. Behind TLS
(``https://`` ari_url, Asterisk's ``tlsenable``) the listings would send gtx to plain HTTP on
the TLS port; behind a proxy that sets its own ``Host`` or adds a path prefix, to an address gtx
cannot reach. So the link loads the listings itself (:func:`load_listings`), under ``ari_url``,
and sets every ``basePath`` to ``ari_url`` + ``ari``: requests and the event WebSocket (``wss://``
for ``https://``) go where gtx.ini says Asterisk is.
"""

from __future__ import annotations

import json
from typing import Any, Final

#: Where the resource listing is, below the REST base (``…/ari``).
RESOURCES_PATH: Final = "/api-docs/resources.json"


def rest_base(ari_url: str) -> str:
    """The REST base of ``ari_url`` (``https://pbx:8089/asterisk/`` →
    ``https://pbx:8089/asterisk/ari``)."""
    return ari_url.rstrip("/") + "/ari"


async def _json(http: Any, url: str) -> Any:
    response = await http.request("GET", url)
    return json.loads(await response.text())


async def load_listings(http: Any, base: str) -> dict[str, Any]:
    """The resource listing and every API declaration it names, fetched with ``http`` (an
    aioswagger11 HTTP client: an HTTP error raises aiohttp's) under ``base`` (see
    :func:`rest_base`), every ``basePath`` set to ``base``: what
    ``aioswagger11.client.SwaggerClient`` takes as already loaded."""
    listing = await _json(http, base + RESOURCES_PATH)
    if not isinstance(listing, dict) or not isinstance(listing.get("apis"), list):
        raise ValueError(f"{base + RESOURCES_PATH} is not a Swagger resource listing")
    listing["url"] = base + RESOURCES_PATH
    listing["basePath"] = base
    for api in listing["apis"]:
        path = str(api.get("path", "")).replace("{format}", "json").strip("/")
        api["url"] = f"{base}/{path}"
        declaration = await _json(http, api["url"])
        if not isinstance(declaration, dict):
            raise ValueError(f"{api['url']} is not a Swagger API declaration")
        declaration["basePath"] = base
        api["api_declaration"] = declaration
    return listing
