"""examples/README.md stays true to the services it documents."""

from __future__ import annotations

import configparser
import re

import pytest

from tests.conftest import ROOT
from tests.examples.conftest import load_example

README = (ROOT / "examples" / "README.md").read_text()


@pytest.mark.parametrize(("name", "port"), [("menu_service", 8000), ("prepaid_service", 8001)])
def test_readme_documents_every_method_and_the_port(name: str, port: int) -> None:
    module = load_example(name)
    server = module.build_server(port=0)
    try:
        methods = {m for m in server.system_listMethods() if not m.startswith("system.")}
    finally:
        server.server_close()
    assert methods
    for method in methods:
        assert f"`{method}`" in README, method
    # The gtx.ini section in the README points at the port the script listens on by default.
    app = name.removesuffix("_service")
    section = re.search(rf"\[ivr:{app}\]\s+url = (\S+)\s+method = (\S+)", README)
    assert section is not None
    assert section[1] == f"http://127.0.0.1:{port}/RPC2"
    assert section[2] in methods
    assert module.build_server.__defaults__[1] == port


@pytest.mark.parametrize("app", ["menu", "prepaid"])
def test_sample_gtx_ini_points_at_the_example_services(app: str) -> None:
    ini = configparser.ConfigParser(inline_comment_prefixes=(";",))
    ini.read(ROOT / "examples" / "gtx.ini")
    section = re.search(rf"\[ivr:{app}\]\s+url = (\S+)\s+method = (\S+)", README)
    assert section is not None
    assert (ini[f"ivr:{app}"]["url"], ini[f"ivr:{app}"]["method"]) == (section[1], section[2])
