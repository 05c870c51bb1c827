"""gtx.asterisk.ari_docs: the ARI listings loaded under ari_url, whatever basePath Asterisk
wrote in them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted

from gtx.asterisk.ari_docs import load_listings, rest_base
from tests.asterisk.ari_loopback import aio


class _Answer:
    def __init__(self, body: Any) -> None:
        self.body = body

    async def text(self) -> str:
        return json.dumps(self.body)


class _Http:
    """Answers GETs from a dict of URL → JSON; records the URLs asked for."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.asked: list[str] = []

    async def request(self, method: str, url: str) -> _Answer:
        assert method == "GET"
        self.asked.append(url)
        return _Answer(self.documents[url])


def test_the_rest_base_keeps_the_scheme_host_and_prefix() -> None:
    assert rest_base("https://pbx.example:8089/asterisk/") == "https://pbx.example:8089/asterisk/ari"
    assert rest_base("http://127.0.0.1:8088") == "http://127.0.0.1:8088/ari"


@pytest_twisted.ensureDeferred
async def test_listings_are_fetched_and_based_under_ari_url() -> None:
    base = "https://pbx.example:8089/asterisk/ari"
    asterisk_says = "http://pbx.example:8089/ari"  # Asterisk: http:// + Host, no prefix
    http = _Http({
        f"{base}/api-docs/resources.json": {
            "basePath": asterisk_says, "swaggerVersion": "1.1",
            "apis": [{"path": "/api-docs/channels.{format}"},
                     {"path": "/api-docs/events.{format}"}]},
        f"{base}/api-docs/channels.json": {"basePath": asterisk_says, "apis": []},
        f"{base}/api-docs/events.json": {"basePath": asterisk_says, "apis": []},
    })
    listing = await aio(load_listings(http, base))
    assert http.asked == [f"{base}/api-docs/resources.json", f"{base}/api-docs/channels.json",
                          f"{base}/api-docs/events.json"]
    assert listing["basePath"] == base
    assert [api["api_declaration"]["basePath"] for api in listing["apis"]] == [base, base]
    assert [api["url"] for api in listing["apis"]] == [f"{base}/api-docs/channels.json",
                                                      f"{base}/api-docs/events.json"]


@pytest_twisted.ensureDeferred
async def test_something_that_is_not_a_listing_is_refused() -> None:
    http = _Http({"http://a/ari/api-docs/resources.json": {"message": "nope"}})
    with pytest.raises(ValueError, match="not a Swagger resource listing"):
        await aio(load_listings(http, "http://a/ari"))
