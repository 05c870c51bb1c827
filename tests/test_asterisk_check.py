"""gtx.ini compared with an Asterisk configuration directory (check-config --asterisk-dir).

The reference configuration is the one the real transcripts were taken with; each mismatch
test changes one line of a copy of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gtx.asterisk_check import AsteriskCheck, check_asterisk
from gtx.asterisk_conf import AsteriskConfError, read
from gtx.cli import main
from gtx.config import GtxConfig, parse_config
from tests.conftest import ROOT

REFERENCE = ROOT / "tests" / "fixtures" / "asterisk" / "reference-config"
ASTERISK_CONF = ROOT / "asterisk-conf"

GTX_INI = """
[asterisk:pbx1]
ami = tcp:127.0.0.1:5038
ami_user = gtx
ami_secret = gtxsecret
ari_url = http://127.0.0.1:8088/
ari_user = gtx
ari_password = gtxsecret
"""


def config(**changes: str) -> GtxConfig:
    text = GTX_INI
    for key, value in changes.items():
        lines = [line for line in text.splitlines() if not line.startswith(f"{key} =")]
        text = "\n".join(lines) + (f"\n{key} = {value}\n" if value else "\n")
    return parse_config(text)


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    """A copy of the reference configuration, to change."""
    target = tmp_path / "asterisk"
    shutil.copytree(REFERENCE, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, path)
    path.write_text(text.replace(old, new, 1))


def problems(check: AsteriskCheck) -> list[str]:
    return [str(p) for p in check.problems]


def test_the_reference_configuration_matches(etc: Path) -> None:
    check = check_asterisk(config(), REFERENCE)
    assert check.problems == []
    assert check.notes == []
    # It leaves websocket_write_timeout at Asterisk's 100 ms: it works, at risk under load.
    assert check.warnings == [
        f"[asterisk:pbx1] ari_url: Asterisk drops the event WebSocket when a write to it takes "
        f"over 100 ms, so a node busy for a moment loses its calls' events: set "
        f"websocket_write_timeout = 1000 at {REFERENCE}/ari.conf [general] "
        f"websocket_write_timeout (not set)"]
    assert [p.name for p in check.files] == ["ari.conf", "http.conf", "manager.conf"]


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("ari.conf", "enabled = yes", "enabled = no",
         "[asterisk:pbx1] ari_url: ARI is disabled: set enabled = yes at {dir}/ari.conf "
         "[general] enabled (line 2)"),
        ("ari.conf", "[gtx]", "[other]",
         "[asterisk:pbx1] ari_user: no ARI user [gtx] in {dir}/ari.conf or the files it "
         "includes; asterisk-conf/ari_gtx.conf defines one"),
        ("ari.conf", "type = user", "type = outbound_websocket",
         "[asterisk:pbx1] ari_user: [gtx] is not an ARI user: set type = user at "
         "{dir}/ari.conf [gtx] type (line 4)"),
        ("ari.conf", "read_only = no", "read_only = yes",
         "[asterisk:pbx1] ari_user: the ARI user may only read"),
        ("ari.conf", "password = gtxsecret", "password = other",
         "[asterisk:pbx1] ari_password: differs from the password at {dir}/ari.conf [gtx] "
         "password (line 6): write the same one in both"),
        ("http.conf", "enabled = yes", "enabled = no",
         "[asterisk:pbx1] ari_url: Asterisk's HTTP server, which serves ARI, is off: set "
         "enabled = yes at {dir}/http.conf [general] enabled (line 2)"),
        ("http.conf", "bindport = 8088", "bindport = 8090",
         "[asterisk:pbx1] ari_url: port 8088, but Asterisk's HTTP server listens on 8090 "
         "({dir}/http.conf [general] bindport (line 4)): make them the same"),
        ("http.conf", "bindaddr = 127.0.0.1", "bindaddr = 10.0.0.5",
         "[asterisk:pbx1] ari_url: host 127.0.0.1, but Asterisk listens on 10.0.0.5 only "
         "({dir}/http.conf [general] bindaddr (line 3))"),
        ("http.conf", "bindaddr = 127.0.0.1", "",
         "[asterisk:pbx1] ari_url: Asterisk's HTTP server runs only with a bind address: set "
         "bindaddr (e.g. 127.0.0.1) at {dir}/http.conf [general] bindaddr (not set)"),
        ("http.conf", "bindport = 8088", "bindport = 8088\nprefix = asterisk",
         "[asterisk:pbx1] ari_url: Asterisk serves ARI at /asterisk/ari ({dir}/http.conf "
         "[general] prefix (line 5)): give ari_url the path /asterisk/ (got /)"),
        ("manager.conf", "enabled = yes", "enabled = no",
         "[asterisk:pbx1] ami: AMI is disabled: set enabled = yes at {dir}/manager.conf "
         "[general] enabled (line 2)"),
        ("manager.conf", "port = 5038", "port = 5039",
         "[asterisk:pbx1] ami: port 5038, but AMI listens on 5039 ({dir}/manager.conf "
         "[general] port (line 3)): make them the same"),
        ("manager.conf", "secret = gtxsecret", "secret = other",
         "[asterisk:pbx1] ami_secret: differs from the secret at {dir}/manager.conf [gtx] "
         "secret (line 6): write the same one in both"),
        ("manager.conf", "[gtx]", "[someone]",
         "[asterisk:pbx1] ami_user: no AMI user [gtx] in {dir}/manager.conf"),
    ],
)
def test_each_mismatch_names_both_sides(
    etc: Path, file: str, old: str, new: str, expected: str
) -> None:
    edit(etc / file, old, new)
    found = problems(check_asterisk(config(), etc))
    assert len(found) == 1, found
    assert found[0].startswith(expected.format(dir=etc)), found


def test_defaults_of_asterisk_apply_when_a_key_is_absent(etc: Path) -> None:
    # ari.conf: enabled and read_only default to yes and no; http.conf: bindport to 8088;
    # manager.conf: port to 5038. http.conf and manager.conf are off unless enabled.
    edit(etc / "ari.conf", "enabled = yes\n", "")
    edit(etc / "ari.conf", "read_only = no\n", "")
    edit(etc / "http.conf", "bindport = 8088\n", "")
    edit(etc / "manager.conf", "port = 5038\n", "")
    assert problems(check_asterisk(config(), etc)) == []
    edit(etc / "manager.conf", "enabled = yes\n", "")
    assert problems(check_asterisk(config(), etc)) == [
        f"[asterisk:pbx1] ami: AMI is disabled: set enabled = yes at {etc}/manager.conf "
        "[general] enabled (not set)"]


def test_a_crypt_password_cannot_be_compared(etc: Path) -> None:
    edit(etc / "ari.conf", "password = gtxsecret",
         "password = $6$salt$hash\npassword_format = crypt")
    check = check_asterisk(config(), etc)
    assert check.problems == []
    assert check.notes == [
        f"[asterisk:pbx1] ari_password: {etc}/ari.conf [gtx] password (line 6) is a crypt "
        "hash (password_format = crypt): it cannot be compared, check it by hand"]


def install_gtx_files(etc: Path) -> None:
    """The layout asterisk-conf/README.md describes: gtx's files included at the end."""
    for name in ("ari_gtx.conf", "manager_gtx.conf"):
        shutil.copy(ASTERISK_CONF / name, etc / name)
    (etc / "ari.conf").write_text("[general]\nenabled = yes\nwebsocket_write_timeout = 1000\n"
                                  "#include ari_gtx.conf\n")
    (etc / "manager.conf").write_text(
        "[general]\nenabled = yes\nport = 5038\nbindaddr = 127.0.0.1\n"
        "#include manager_gtx.conf\n")
    shutil.copy(ASTERISK_CONF / "http_gtx.conf", etc / "http.conf")


def test_the_shipped_files_installed_as_documented_match_the_example(etc: Path) -> None:
    install_gtx_files(etc)
    check = check_asterisk(config(ami_secret="CHANGE-ME", ari_password="CHANGE-ME"), etc)
    assert problems(check) == []
    assert check.warnings == []
    assert [p.name for p in check.files] == [
        "ari.conf", "ari_gtx.conf", "http.conf", "manager.conf", "manager_gtx.conf"]
    # The mismatch names the included file, where the password really is.
    found = problems(check_asterisk(config(ami_secret="CHANGE-ME"), etc))
    line = (etc / "ari_gtx.conf").read_text().splitlines().index("password = CHANGE-ME") + 1
    assert found == [f"[asterisk:pbx1] ari_password: differs from the password at "
                     f"{etc}/ari_gtx.conf [gtx] password (line {line}): write the same one in "
                     "both"]


def test_a_gtx_file_copied_but_not_included_is_pointed_out(etc: Path) -> None:
    install_gtx_files(etc)
    (etc / "ari.conf").write_text("[general]\nenabled = yes\n")
    found = problems(check_asterisk(config(ari_password="CHANGE-ME", ami_secret="CHANGE-ME"),
                                    etc))
    assert found == [f"[asterisk:pbx1] ari_user: no ARI user [gtx] in {etc}/ari.conf or the "
                     f"files it includes; ari_gtx.conf is in {etc} but ari.conf does not "
                     "include it: add `#include ari_gtx.conf` at its end"]


@pytest.mark.parametrize(
    ("file", "old", "new", "ari_connections", "expected"),
    [
        ("http.conf", "bindport = 8088", "bindport = 8088\nsessionlimit = 30", "20",
         "[asterisk:pbx1] ari_connections: 20 REST connections and the event WebSocket leave "
         "too little of Asterisk's 30 HTTP sessions (other nodes and tools need some; a request "
         "over the limit is cut off unanswered): set sessionlimit = 200 at {dir}/http.conf "
         "[general] sessionlimit (line 5) (more with several gtx nodes), or lower "
         "ari_connections"),
        ("http.conf", "bindport = 8088", "bindport = 8088", "90",  # Asterisk's 100
         "[asterisk:pbx1] ari_connections: 90 REST connections and the event WebSocket leave "
         "too little of Asterisk's 100 HTTP sessions"),
        ("http.conf", "bindport = 8088", "bindport = 8088\nsession_keep_alive = 5000", "20",
         "[asterisk:pbx1] ari_url: Asterisk closes idle HTTP connections after 5000 ms, before "
         "gtx does (5000 ms): a request may meet a connection being closed; remove "
         "session_keep_alive at {dir}/http.conf [general] session_keep_alive (line 5)"),
        ("ari.conf", "websocket_write_timeout = 1000", "websocket_write_timeout = 500", "20",
         "[asterisk:pbx1] ari_url: Asterisk drops the event WebSocket when a write to it takes "
         "over 500 ms"),
    ],
)
def test_settings_at_risk_under_load_are_warnings(
    etc: Path, file: str, old: str, new: str, ari_connections: str, expected: str
) -> None:
    edit(etc / "ari.conf", "enabled = yes", "enabled = yes\nwebsocket_write_timeout = 1000")
    edit(etc / file, old, new)
    check = check_asterisk(config(ari_connections=ari_connections), etc)
    assert check.problems == []
    assert len(check.warnings) == 1, check.warnings
    assert check.warnings[0].startswith(expected.format(dir=etc)), check.warnings


def test_enough_sessions_and_a_long_write_timeout_warn_of_nothing(etc: Path) -> None:
    edit(etc / "ari.conf", "enabled = yes", "enabled = yes\nwebsocket_write_timeout = 1000")
    edit(etc / "http.conf", "bindport = 8088",
         "bindport = 8088\nsessionlimit = 31\nsession_keep_alive = 5001")
    assert check_asterisk(config(ari_connections="20"), etc).warnings == []
    # Unreadable values are Asterisk's defaults (it logs a warning and uses them).
    edit(etc / "http.conf", "sessionlimit = 31", "sessionlimit = lots")
    assert check_asterisk(config(ari_connections="89"), etc).warnings == []
    assert len(check_asterisk(config(ari_connections="90"), etc).warnings) == 1


def test_templates_and_inheritance_are_followed(etc: Path) -> None:
    (etc / "ari.conf").write_text(
        "[general]\nenabled = yes\n"
        "[gtx](!)\ntype = user\nread_only = yes\npassword = template\n"  # a template only
        "[writer](!)\ntype = user\nread_only = no\n"
        "[gtx](writer)\npassword = gtxsecret\n"
        "[gtx](+)\n; more settings for the same user\npassword_format = plain\n")
    assert problems(check_asterisk(config(), etc)) == []
    user = read(etc / "ari.conf").first("gtx")
    assert user is not None
    assert (user.get("read_only"), user.get("password_format")) == ("no", "plain")
    assert user.where("password") == f"{etc}/ari.conf [gtx] password (line 11)"


def test_a_missing_include_is_a_problem_a_missing_tryinclude_is_not(etc: Path) -> None:
    edit(etc / "ari.conf", "[gtx]", "#tryinclude nowhere.conf\n[gtx]")
    assert problems(check_asterisk(config(), etc)) == []
    edit(etc / "ari.conf", "#tryinclude", "#include")
    found = problems(check_asterisk(config(), etc))
    assert found == [f"[asterisk:pbx1] ari_url: ari_url is set, but {etc}/ari.conf:3: "
                     "#include nowhere.conf: no such file (Asterisk refuses to load the "
                     "file then)"]


def test_include_loops_and_unparsable_lines_are_reported(etc: Path) -> None:
    (etc / "ari.conf").write_text("[general]\n#include ari.conf\n")
    with pytest.raises(AsteriskConfError, match="nested over 10 deep"):
        read(etc / "ari.conf")
    (etc / "ari.conf").write_text("[general]\nenabled yes\n")
    with pytest.raises(AsteriskConfError, match=r"ari.conf:2: Item must be in name = value"):
        read(etc / "ari.conf")
    (etc / "ari.conf").write_text("[gtx](missing)\n")
    with pytest.raises(AsteriskConfError, match=r"inherits from \[missing\], which is not"):
        read(etc / "ari.conf")


def test_missing_files_are_problems_of_the_keys_that_need_them(tmp_path: Path) -> None:
    found = problems(check_asterisk(config(), tmp_path))
    why = "cannot read: No such file or directory"
    assert found == [
        f"[asterisk:pbx1] ari_url: ari_url is set, but {tmp_path}/ari.conf: {why}",
        f"[asterisk:pbx1] ari_url: ARI is served by Asterisk's HTTP server, but "
        f"{tmp_path}/http.conf: {why}",
        f"[asterisk:pbx1] ami: ami is set, but {tmp_path}/manager.conf: {why}",
    ]


def test_https_needs_tls_on_its_port(etc: Path) -> None:
    https = config(ari_url="https://127.0.0.1:8089/")
    found = problems(check_asterisk(https, etc))
    assert found == [f"[asterisk:pbx1] ari_url: ari_url is https but Asterisk's HTTP server "
                     f"has no TLS: set tlsenable = yes at {etc}/http.conf [general] tlsenable "
                     "(not set)"]
    edit(etc / "http.conf", "bindport = 8088", "bindport = 8088\ntlsenable = yes\n"
         "tlsbindaddr = 127.0.0.1:8443")
    assert problems(check_asterisk(https, etc)) == [
        f"[asterisk:pbx1] ari_url: port 8089, but Asterisk's HTTP server listens on 8443 "
        f"({etc}/http.conf [general] tlsbindaddr (line 6)): make them the same"]


@pytest.mark.parametrize(
    ("ami", "ari_url", "bindaddr", "expected"),
    [
        ("tcp:host=127.0.0.1:port=5038", "http://localhost:8088/", "127.0.0.1", None),
        ("tcp:127.0.0.1:5038", "http://[::1]:8088/", "::", None),  # every address
        ("tcp:127.0.0.1:5038", "http://pbx.example:8088/", "127.0.0.1", "note"),
        ("tcp:127.0.0.1:5038", "http://127.0.0.1:8088/", "0.0.0.0", None),
    ],
)
def test_addresses(etc: Path, ami: str, ari_url: str, bindaddr: str,
                   expected: str | None) -> None:
    edit(etc / "http.conf", "bindaddr = 127.0.0.1", f"bindaddr = {bindaddr}")
    check = check_asterisk(config(ami=ami, ari_url=ari_url), etc)
    assert check.problems == []
    if expected == "note":
        assert check.notes == [
            f"[asterisk:pbx1] ari_url: cannot tell whether pbx.example is the address "
            f"127.0.0.1 Asterisk listens on ({etc}/http.conf [general] bindaddr (line 3))"]
    else:
        assert check.notes == []


def test_only_the_named_servers_are_compared(etc: Path) -> None:
    two = parse_config(GTX_INI + "[asterisk:pbx2]\nami = tcp:10.0.0.2:5038\nami_user = gtx\n"
                       "ami_secret = other\n")
    assert len(check_asterisk(two, etc).problems) == 2  # pbx2: its host, its secret
    assert check_asterisk(two, etc, ["pbx1"]).problems == []


# -- the command -------------------------------------------------------------------------------


def write_ini(tmp_path: Path, text: str = GTX_INI) -> str:
    ini = tmp_path / "gtx.ini"
    ini.write_text(text)
    return str(ini)


def test_check_config_with_the_asterisk_dir(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    ini = write_ini(tmp_path)
    assert main(["check-config", "-c", ini, "--asterisk-dir", str(REFERENCE)]) == 0
    out = capsys.readouterr().out
    assert f"{REFERENCE}: OK for [asterisk:pbx1] (read ari.conf, http.conf, manager.conf)" in out
    # A warning does not fail the check.
    assert "  warning: [asterisk:pbx1] ari_url: Asterisk drops the event WebSocket" in out
    assert "asterisk pbx1 ARI: user gtx, Stasis app gtx" in out


def test_check_config_reports_mismatches_and_fails(
    tmp_path: Path, etc: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(etc / "ari.conf", "password = gtxsecret", "password = other")
    ini = write_ini(tmp_path)
    assert main(["check-config", "-c", ini, "--asterisk-dir", f"pbx1={etc}"]) == 1
    err = capsys.readouterr().err
    assert f"{etc}: 1 problem(s) with [asterisk:pbx1]" in err
    assert f"  [asterisk:pbx1] ari_password: differs from the password at {etc}/ari.conf" in err


@pytest.mark.parametrize(
    ("value", "message"),
    [("nope={dir}", "no [asterisk:nope] in"), ("{dir}/missing", "is not a directory")],
)
def test_check_config_refuses_a_bad_asterisk_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    ini = write_ini(tmp_path)
    assert main(["check-config", "-c", ini, "--asterisk-dir", value.format(dir=tmp_path)]) == 1
    assert message in capsys.readouterr().err


def test_nothing_to_compare_without_ami_or_ari(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    ini = write_ini(tmp_path, "[asterisk:pbx1]\nagi_hosts = 10.0.0.1\n")
    assert main(["check-config", "-c", ini, "--asterisk-dir", str(tmp_path)]) == 0
    assert "nothing to compare" in capsys.readouterr().out
