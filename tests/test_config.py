"""gtx.ini parsing and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtx.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return [str(p) for p in info.value.problems]


def test_example_file_is_valid_and_documents_every_key() -> None:
    config = load_config(ROOT / "examples" / "gtx.ini")
    assert config.node == "gtx1"
    assert config.fastagi_listen == "tcp:4573:interface=127.0.0.1"
    assert config.http_listen == "tcp:8090:interface=127.0.0.1"
    assert config.apps["menu"].method == "menu.start"
    assert config.apps["menu"].hangup_method == "menu.hangup"
    assert config.apps["prepaid"].timeout == 3.0
    assert config.asterisk_name_for("127.0.0.1") == "pbx1"
    assert config.asterisk_name_for("10.9.9.9") == "pbx1"  # the only server
    # every key the code accepts is documented in the example, with a comment above it
    from gtx.config import SECTION_KEYS

    text = (ROOT / "examples" / "gtx.ini").read_text()
    for keys in SECTION_KEYS.values():
        for key in keys:
            if key in {"url", "method"}:
                continue
            assert f"\n{key} =" in text, f"{key} is not documented in examples/gtx.ini"


def test_defaults_without_a_file() -> None:
    config = parse_config("")
    assert config.node == "gtx1"
    assert config.apps == {}
    assert config.url_app_defaults is not None
    assert config.ivr_defaults.fallback == ("an-error-has-occured",)


def test_app_inherits_ivr_defaults_and_overrides_them() -> None:
    config = parse_config(
        "[ivr]\ntimeout = 2\nexec_allowed = Playback, NoOp\nsecret = k\n"
        "[ivr:a]\nurl = http://h/RPC2\nmethod = a.start\nretries = 0\n"
    )
    app = config.apps["a"]
    assert (app.timeout, app.retries, app.secret) == (2.0, 0, "k")
    assert app.exec_allowed == frozenset({"Playback", "NoOp"})


def test_every_problem_is_reported_with_section_and_key() -> None:
    found = problems_of(
        "[gtx]\nnode = a b\nnodee = 1\n[fastagi]\nlisten = tpc:12\n"
        "[ivr:x]\nurl = ftp://x\ntimeout = abc\non_error = ignore\n[foo]\n"
    )
    joined = "\n".join(found)
    assert "[gtx] nodee: unknown key; did you mean 'node'?" in joined
    assert "[foo]: unknown section" in joined
    assert "[ivr:x] method: missing" in joined
    assert "[ivr:x] url: expected an http:// or https:// URL" in joined
    assert "[ivr:x] timeout: expected seconds, got 'abc'" in joined
    assert "[ivr:x] on_error: expected hangup or continue" in joined
    assert "[gtx] node: expected a node name" in joined
    assert "[fastagi] listen: expected a server endpoint string" in joined
    assert len(found) == 8


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[ivr]\ntimeout = 0\n", "[ivr] timeout: expected seconds, got '0' (must be between"),
        ("[ivr]\nexec_allowed = Play back;x\n", "[ivr] exec_allowed"),
        ("[store]\nurl = mysql://x/y\n", "[store] url: expected a store URL"),
        ("[asterisk:pbx1]\nami = tcp:127.0.0.1:5038\n", "ami and ami_user go together"),
        ("[asterisk:pbx1]\nami = nope\nami_user = gtx\n", "[asterisk:pbx1] ami"),
        ("[ivr]\nallow_url_apps = maybe\n", "[ivr] allow_url_apps: expected yes or no"),
        ("[ivr:bad name]\nurl = http://h/\nmethod = m\n", "[ivr:bad name]: the name"),
        ("not an ini file", "[file]"),
    ],
)
def test_single_problems(text: str, fragment: str) -> None:
    assert any(fragment in p for p in problems_of(text)), problems_of(text)


def test_url_apps_can_be_refused() -> None:
    assert parse_config("[ivr]\nallow_url_apps = no\n").url_app_defaults is None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.ini")


def test_users_and_dialer_settings() -> None:
    config = parse_config(
        "[dialer]\nchannel = PJSIP/{number}@trunk\nlease_seconds = 30\n"
        "[user:crm]\nrole = dialer\ntoken = t0k\nallow = 10.0.0.0/8, 127.0.0.1\n"
        "[user:ops]\nrole = admin\npassword = pw\n"
    )
    assert config.dialer.channel == "PJSIP/{number}@trunk"
    assert config.dialer.lease_seconds == 30.0
    crm, ops = config.users["crm"], config.users["ops"]
    assert (crm.role, crm.token, crm.password, crm.allow) == (
        "dialer", "t0k", None, ("10.0.0.0/8", "127.0.0.1"))
    assert (ops.role, ops.password, ops.allow) == ("admin", "pw", ())


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[user:x]\nrole = boss\ntoken = t\n", "[user:x] role: expected admin or dialer"),
        ("[user:x]\ntoken = t\n", "[user:x] role: missing"),
        ("[user:x]\nrole = admin\n", "[user:x]: needs a password (HTTP Basic) or a token"),
        ("[user:x]\nrole = admin\ntoken = t\nallow = everyone\n", "[user:x] allow"),
        ("[dialer]\nchannel = PJSIP/trunk\n", "[dialer] channel: expected a dial string"),
    ],
)
def test_user_and_dialer_problems(text: str, fragment: str) -> None:
    found = problems_of(text)
    assert any(fragment in p for p in found), found
    assert len(found) == 1, found


def test_recorder_settings() -> None:
    config = parse_config("[recorder]\ndir = /srv/rec\nkeep_days = 90\nurl_ttl = 600\n"
                          "public_url = https://gtx.example:8090\n")
    rec = config.recorder
    assert (rec.dir, rec.keep_days, rec.url_ttl, rec.url_secret, rec.public_url) == (
        "/srv/rec", 90.0, 600.0, None, "https://gtx.example:8090")
    assert parse_config("").recorder.keep_days is None
    assert any("[recorder] dir: expected an absolute path" in p
               for p in problems_of("[recorder]\ndir = rec\n"))


def test_asterisk_server_of_a_fastagi_connection() -> None:
    config = parse_config(
        "[asterisk:a]\nami = tcp:10.0.0.1:5038\nami_user = gtx\n"
        "[asterisk:b]\nami = tcp:host=10.0.0.2:port=5038\nami_user = gtx\n"
        "agi_hosts = 10.0.1.2\n"
    )
    assert config.asterisk_name_for("10.0.1.2") == "b"  # listed in agi_hosts
    assert config.asterisk_name_for("10.0.0.1") == "a"  # its AMI address
    assert config.asterisk_name_for("10.0.0.2") == "b"
    assert config.asterisk_name_for("10.9.9.9") == "10.9.9.9"  # none of them


# -- ARI keys of [asterisk:NAME] -----------------------------------------------------------

ARI = "ari_url = http://127.0.0.1:8088/\nari_user = gtx\nari_password = p&ss%w0rd\n"
AMI = "ami = tcp:127.0.0.1:5038\nami_user = gtx\nami_secret = s\n"


def test_example_server_settings() -> None:
    server = load_config(ROOT / "examples" / "gtx.ini").asterisk["pbx1"]
    assert (server.ari_url, server.ari_user, server.ari_app) == (
        "http://127.0.0.1:8088/", "gtx", "gtx")
    assert (server.originate_via, server.record_via) == ("ami", "ami")
    assert server.ari_recording_dir == "/var/spool/asterisk/recording"
    assert server.ari_connections == 20


def test_ari_connections_defaults_to_20_and_can_be_set() -> None:
    assert parse_config("[asterisk:a]\n" + ARI).asterisk["a"].ari_connections == 20
    server = parse_config("[asterisk:a]\n" + ARI + "ari_connections = 90\n").asterisk["a"]
    assert server.ari_connections == 90


@pytest.mark.parametrize(
    ("body", "via"),
    [
        (AMI + ARI, "ami"),  # both: AMI, as before ARI existed
        (AMI, "ami"),
        (ARI, "ari"),
        ("agi_hosts = 10.0.0.1\n", None),  # FastAGI only: no calls, no recordings
    ],
)
def test_backend_defaults_follow_what_is_configured(body: str, via: str | None) -> None:
    server = parse_config("[asterisk:a]\n" + body).asterisk["a"]
    assert (server.originate_via, server.record_via) == (via, via)


def test_backends_can_be_chosen_apart() -> None:
    server = parse_config(
        "[asterisk:a]\n" + AMI + ARI + "originate_via = ari\nrecord_via = ami\n"
        "ari_app = gtx-node2\nari_recording_dir = /srv/spool/recording\n"
    ).asterisk["a"]
    assert (server.originate_via, server.record_via) == ("ari", "ami")
    assert server.ari_app == "gtx-node2"
    assert server.ari_password == "p&ss%w0rd"  # kept as written: the link encodes it
    assert server.ari_recording_dir == "/srv/spool/recording"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (AMI + "originate_via = ari\n",
         "[asterisk:a] originate_via: ari is chosen but this section has no ari_url"),
        (ARI + "record_via = ami\n",
         "[asterisk:a] record_via: ami is chosen but this section has no ami"),
        (ARI + "originate_via = sip\n", "[asterisk:a] originate_via: expected ami or ari"),
        ("ari_url = http://127.0.0.1:8088/\nari_user = gtx\n",
         "[asterisk:a] ari_password: missing: ari_url needs ari_user and ari_password"),
        ("ari_url = http://127.0.0.1:8088/\nari_password = x\n",
         "[asterisk:a] ari_user: missing: ari_url needs ari_user and ari_password"),
        ("ari_user = gtx\nari_password = x\n",
         "[asterisk:a] ari_url: missing: ari_user and ari_password need ari_url"),
        (ARI + "ari_recording_dir = recording\n",
         "[asterisk:a] ari_recording_dir: expected an absolute path, got 'recording'"),
        (ARI + "ari_app = gtx&other\n",
         "[asterisk:a] ari_app: expected a Stasis application name"),
        (ARI + "ari_app = gtx,1\n", "[asterisk:a] ari_app: expected a Stasis application name"),
        (ARI + "ari_connections = 0\n",
         "[asterisk:a] ari_connections: expected a number of connections"),
        (ARI + "ari_connections = 91\n",
         "[asterisk:a] ari_connections: expected a number of connections"),
        (ARI + "ari_connections = many\n",
         "[asterisk:a] ari_connections: expected a number of connections"),
    ],
)
def test_ari_problems(body: str, expected: str) -> None:
    found = problems_of("[asterisk:a]\n" + body)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_ivr_app_names_may_not_take_the_internal_prefix() -> None:
    found = problems_of("[ivr:gtx-dial]\nurl = http://h/RPC2\nmethod = m\n")
    assert found == ["[ivr:gtx-dial]: an app name may not start with 'gtx-': Stasis arguments "
                     "starting with it are gtx's own (dial legs, dialer calls, recordings)"]
    # "gtx" alone (the default Stasis application) and other names are fine as app names.
    assert parse_config("[ivr:gtx]\nurl = http://h/RPC2\nmethod = m\n"
                        "[ivr:gtxmenu]\nurl = http://h/RPC2\nmethod = m\n").apps.keys() == {
        "gtx", "gtxmenu"}


def test_describe_shows_the_ari_settings_of_each_server() -> None:
    from gtx.config import describe

    config = parse_config("[asterisk:a]\n" + AMI + ARI + "record_via = ari\n"
                          "[asterisk:b]\nagi_hosts = 10.0.0.2\n")
    lines = list(describe(config))
    assert "asterisk a ARI: user gtx, Stasis app gtx, recordings under "\
        "/var/spool/asterisk/recording, 20 REST connections at most" in lines
    assert "asterisk a: calls via ami, recordings via ari" in lines
    assert "asterisk b: calls via none, recordings via none" in lines
    assert not any("p&ss" in line for line in lines)  # never the password
