"""Variables, dialplan functions and the AstDB."""

from __future__ import annotations

from gtx.testing import CallSpec
from tests.testing.replay import start_call


def test_get_variable_builtins_and_functions() -> None:
    spec = CallSpec(caller_number="5551234", caller_name="Alice", uniqueid="1.2")
    call = start_call(spec)
    assert call.command("GET VARIABLE UNIQUEID") == "200 result=1 (1.2)\n"
    assert call.command("GET VARIABLE CALLERID(name)") == "200 result=1 (Alice)\n"
    assert call.command("GET VARIABLE NOPE(x)") == "200 result=0\n"
    assert call.command("GET VARIABLE CONTEXT") == "200 result=1 (gtx-test)\n"


def test_get_full_variable_expressions() -> None:
    spec = CallSpec(
        caller_number="5551234",
        uniqueid="1.2",
        variables={"V": "abcdef", "N": "V"},
        inherited={"PJSIP_HEADER(X-GTX)": "h"},
    )
    call = start_call(spec)
    assert call.command("GET FULL VARIABLE ${CALLERID(num)}-${UNIQUEID}") == (
        "200 result=1 (5551234-1.2)\n"
    )
    assert call.command("GET FULL VARIABLE ${${N}}") == "200 result=1 (abcdef)\n"
    assert call.command("GET FULL VARIABLE ${V:1:2}") == "200 result=1 (bc)\n"
    assert call.command("GET FULL VARIABLE ${LEN(${V})}") == "200 result=1 (6)\n"
    assert call.command("GET FULL VARIABLE ${PJSIP_HEADER(read,X-GTX)}") == "200 result=1 (h)\n"
    assert call.command("GET FULL VARIABLE [${NOTHING}]") == "200 result=1 ([])\n"
    assert call.command("GET FULL VARIABLE ${X} Other/1") == "200 result=0\n"
    assert call.command("GET FULL VARIABLE ${EPOCH}") == "200 result=1 (1795304604)\n"


def test_set_variable_quoting_and_unsetting() -> None:
    call = start_call(CallSpec())
    assert call.command('SET VARIABLE J "{\\"a\\": 1}"') == "200 result=1\n"
    assert call.command("GET VARIABLE J") == '200 result=1 ({"a": 1})\n'
    assert call.command('SET VARIABLE J ""') == "200 result=1\n"
    assert call.command("GET VARIABLE J") == "200 result=0\n"
    assert call.command("SET VARIABLE IAXVAR(GTX_SESSION) s1") == "200 result=1\n"
    assert call.command("GET FULL VARIABLE ${IAXVAR(GTX_SESSION)}") == "200 result=1 (s1)\n"


def test_set_callerid_changes_the_caller() -> None:
    call = start_call(CallSpec())
    assert call.command('SET CALLERID "\\"Bob\\" <555-1234>"') == "200 result=1\n"
    assert call.command("GET FULL VARIABLE ${CALLERID(all)}") == '200 result=1 ("Bob" <5551234>)\n'


def test_database_commands_share_one_astdb() -> None:
    call = start_call(CallSpec())
    assert call.command("DATABASE GET gtx k") == "200 result=0\n"
    assert call.command("DATABASE PUT gtx k v1") == "200 result=1\n"
    assert call.command("DATABASE PUT gtx k2 v2") == "200 result=1\n"
    assert call.command("DATABASE DEL gtx k") == "200 result=1\n"
    assert call.command("DATABASE DEL gtx k") == "200 result=0\n"
    other = start_call(CallSpec(), asterisk=call.asterisk)
    assert other.command("DATABASE GET gtx k2") == "200 result=1 (v2)\n"
    assert other.command("GET FULL VARIABLE ${DB(gtx/k2)}") == "200 result=1 (v2)\n"
    # res_agi answers 0 when DELTREE deleted something, 1 otherwise
    assert other.command("DATABASE DELTREE gtx") == "200 result=0\n"
    assert other.command("DATABASE DELTREE gtx") == "200 result=1\n"


def test_environment_defaults_look_like_asterisk() -> None:
    call = start_call(CallSpec(caller_number="100", dnid="200", args=("a b",)))
    env = bytes(call.server.received).decode()
    assert env.startswith("agi_network: yes\nagi_network_script: ivr\n")
    assert "agi_channel: Local/agi@gtx-test-00000000;2\n" in env
    assert "agi_callerid: 100\nagi_calleridname: unknown\nagi_callingpres: 0\n" in env
    assert "agi_dnid: 200\nagi_rdnis: unknown\n" in env
    assert env.endswith("agi_accountcode: \nagi_threadid: 140200822597312\nagi_arg_1: a b\n\n")
