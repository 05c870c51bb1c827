"""Who may call the API: credentials, roles, allow-lists, audit, and the loopback rule."""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.logger import LogEvent, Logger

from gtx.audit import AuditEntry
from gtx.config import ApiUser, DialerSettings
from gtx.dialer.api import register_dialer_api
from gtx.errors import Unauthorized
from gtx.xmlrpc.auth import (
    AuthenticatedXMLRPCResource,
    access_notice,
    check_listen_address,
    is_read_only,
    role_allows,
    summarize,
)
from gtx.xmlrpc.server import CallContext, xmlrpc_method
from tests.dialer_api.fakes import FakeDialerService
from tests.dialer_api.rpc import basic, bearer, call, fault

USERS = {
    "root": ApiUser("root", "admin", password="s3cret"),
    "crm": ApiUser("crm", "dialer", token="tok-crm-0123456789"),
    "rec": ApiUser("rec", "recorder", password="rec-pw", token="tok-rec"),
    "wall": ApiUser("wall", "readonly", password="look"),
    "office": ApiUser("office", "admin", password="pw",
                      allow=("10.0.0.0/8", "192.168.1.7", "2001:db8::/32")),
}
ROOT = basic("root", "s3cret")
CRM = bearer("tok-crm-0123456789")
WALL = basic("wall", "look")
SPEC = {"name": "R", "mode": "broadcast", "on_answer": {"app": "menu"}}


class Recorder:
    """A stand-in for the recorder API: what the recorder role is for."""

    def __init__(self) -> None:
        self.contexts: list[CallContext] = []

    @xmlrpc_method()
    def start(self, ctx: CallContext, call_id: str) -> bool:
        self.contexts.append(ctx)
        return True

    @xmlrpc_method(name="list")
    def list_recordings(self, ctx: CallContext) -> list[str]:
        self.contexts.append(ctx)
        return []


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.advance(1_800_000_000)
    return clock


@pytest.fixture
def audited() -> list[AuditEntry]:
    return []


@pytest.fixture
def events() -> list[LogEvent]:
    return []


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def build(users, clock, audited, events, recorder, audit=None) -> AuthenticatedXMLRPCResource:
    def store(entry: AuditEntry) -> Deferred[None]:
        audited.append(entry)
        return succeed(None)

    resource = AuthenticatedXMLRPCResource(users, clock=clock, audit=audit or store,
                                           log=Logger(observer=events.append))
    register_dialer_api(resource, FakeDialerService(), DialerSettings(channel="SIP/{number}"))
    resource.put_sub_handler("recorder", recorder)
    return resource


@pytest.fixture
def rpc(clock, audited, events, recorder) -> AuthenticatedXMLRPCResource:
    return build(USERS, clock, audited, events, recorder)


# ------------------------------------------------------------------------------ credentials


def test_no_credentials(rpc, recorder) -> None:
    assert fault(rpc, "dialer.call", "5550100", {}) == (
        401, "credentials required: HTTP Basic (user and password) or 'Authorization: Bearer "
             "TOKEN'")
    assert fault(rpc, "system.listMethods")[0] == 401  # nothing is open, not even introspection
    assert fault(rpc, "no.such.method")[0] == 401  # and method names are not disclosed


@pytest.mark.parametrize(("authorization", "message"), [
    (basic("root", "wrong"), "wrong user or password"),
    (basic("nobody", "s3cret"), "wrong user or password"),
    (basic("crm", ""), "wrong user or password"),  # a token-only user has no password
    (basic("root", ""), "wrong user or password"),
    ("Basic bm9jb2xvbg==", "wrong user or password"),  # "nocolon"
    ("Basic !!!", "malformed HTTP Basic credentials"),
    (bearer("tok-crm-012345678"), "unknown token"),
    (bearer(""), "unknown token"),
    ("Digest username=root", "unsupported authorization scheme 'Digest': use Basic or Bearer"),
])
def test_wrong_credentials(rpc, events, authorization: str, message: str) -> None:
    assert fault(rpc, "dialer.campaign.list", authorization=authorization) == (401, message)
    refusal = [e for e in events if e.get("reason") == message]
    assert refusal, "a refused call is logged"
    assert "s3cret" not in str(refusal[0])


def test_allowed_by_password_or_token(rpc, recorder) -> None:
    assert call(rpc, "dialer.call", "5550100", {}, authorization=ROOT) == {"call_id": "call-1"}
    assert call(rpc, "dialer.call", "5550101", {}, authorization=CRM) == {"call_id": "call-2"}
    assert call(rpc, "recorder.start", "c1", authorization=basic("rec", "rec-pw")) is True
    assert call(rpc, "recorder.start", "c1", authorization=bearer("tok-rec")) is True
    assert call(rpc, "recorder.list", authorization="bearer  tok-rec") == []  # case, spaces
    assert [c.user for c in recorder.contexts] == ["rec", "rec", "rec"]


# ------------------------------------------------------------------------------------ roles


def test_wrong_role_is_forbidden(rpc) -> None:
    assert fault(rpc, "recorder.start", "c1", authorization=CRM) == (
        403, "recorder.start is not allowed for role 'dialer' (user 'crm')")
    assert fault(rpc, "dialer.call", "5550100", {}, authorization=bearer("tok-rec")) == (
        403, "dialer.call is not allowed for role 'recorder' (user 'rec')")


def test_readonly_reads_but_does_not_write(rpc) -> None:
    call(rpc, "dialer.campaign.create", SPEC, authorization=ROOT)
    call(rpc, "dialer.call", "5550100", {}, authorization=ROOT)
    assert call(rpc, "dialer.campaign.status", 1, authorization=WALL)["state"] == "draft"
    assert len(call(rpc, "dialer.campaign.list", authorization=WALL)) == 1
    assert call(rpc, "dialer.campaign.results", 1, authorization=WALL) == {"calls": []}
    assert call(rpc, "dialer.call_status", "call-1", authorization=WALL)["state"] == "queued"
    assert call(rpc, "dialer.dnc.check", ["5550100"], authorization=WALL) == {"listed": []}
    assert call(rpc, "recorder.list", authorization=WALL) == []
    assert "dialer.call" in call(rpc, "system.listMethods", authorization=WALL)
    for method, params in [("dialer.call", ("5550100", {})), ("dialer.campaign.create", (SPEC,)),
                           ("dialer.campaign.start", (1,)), ("dialer.hangup", ("call-1",)),
                           ("dialer.dnc.add", (["5550100"],)), ("dialer.preview.next", (1, "a")),
                           ("recorder.start", ("c1",))]:
        assert fault(rpc, method, *params, authorization=WALL) == (
            403, f"{method} is not allowed for role 'readonly' (user 'wall')")


def test_multicall_checks_each_call(rpc) -> None:
    call(rpc, "dialer.campaign.create", SPEC, authorization=ROOT)
    results = call(rpc, "system.multicall", [
        {"methodName": "dialer.campaign.status", "params": [1]},
        {"methodName": "dialer.campaign.start", "params": [1]},
    ], authorization=WALL)
    assert results[0][0]["state"] == "draft"
    assert results[1] == {"faultCode": 403, "faultString": "dialer.campaign.start is not "
                          "allowed for role 'readonly' (user 'wall')"}


@pytest.mark.parametrize(("role", "method", "allowed"), [
    ("admin", "recorder.delete", True), ("admin", "dialer.call", True),
    ("dialer", "dialer.campaign.create", True), ("dialer", "recorder.list", False),
    ("dialer", "dialerx.call", False), ("recorder", "recorder.fetch", True),
    ("recorder", "dialer.call_status", False), ("readonly", "recorder.list", True),
    ("readonly", "dialer.preview.next", False), ("readonly", "system.multicall", True),
    ("nobody", "dialer.call_status", False), ("nobody", "system.listMethods", True),
])
def test_role_table(role: str, method: str, allowed: bool) -> None:
    assert role_allows(role, method) is allowed


def test_read_only_methods() -> None:
    assert all(is_read_only(m) for m in ["dialer.campaign.status", "dialer.campaign.list",
                                         "dialer.campaign.results", "dialer.call_status",
                                         "dialer.dnc.check", "system.methodHelp"])
    assert not any(is_read_only(m) for m in ["dialer.call", "dialer.dnc.add",
                                             "dialer.preview.next", "dialer.campaign.stop"])


# ------------------------------------------------------------------------------- allow-list


@pytest.mark.parametrize("peer", ["10.1.2.3", "192.168.1.7", "::ffff:10.9.9.9", "2001:db8::5"])
def test_allow_list_lets_listed_addresses_in(rpc, peer: str) -> None:
    assert call(rpc, "dialer.campaign.list", authorization=basic("office", "pw"),
                peer=peer) == []


@pytest.mark.parametrize("peer", ["192.168.1.8", "127.0.0.1", "2001:db9::1"])
def test_allow_list_keeps_other_addresses_out(rpc, peer: str) -> None:
    assert fault(rpc, "dialer.campaign.list", authorization=basic("office", "pw"),
                 peer=peer) == (403, f"user 'office' may not call from {peer} (see its allow "
                                     "list)")


# ------------------------------------------------------------------------------------ audit


def test_writes_are_audited_reads_are_not(rpc, audited, clock) -> None:
    call(rpc, "dialer.campaign.create", SPEC, authorization=ROOT, peer="10.0.0.9")
    clock.advance(5)
    call(rpc, "dialer.campaign.status", 1, authorization=ROOT)
    call(rpc, "dialer.campaign.list", authorization=CRM)
    call(rpc, "dialer.call", "5550100", {"callback": {"url": "https://u:pw@crm/RPC2",
                                                       "method": "ev"}}, authorization=CRM)
    fault(rpc, "dialer.campaign.start", 9, authorization=CRM)
    fault(rpc, "dialer.dnc.add", ["5550100"], authorization=WALL)
    fault(rpc, "dialer.campaign.status", 9, authorization=WALL)  # a read: not audited
    assert [(e.user, e.method, e.peer, e.at) for e in audited] == [
        ("root", "dialer.campaign.create", "10.0.0.9", 1_800_000_000.0),
        ("crm", "dialer.call", "127.0.0.1", 1_800_000_005.0),
        ("crm", "dialer.campaign.start", "127.0.0.1", 1_800_000_005.0),
        ("wall", "dialer.dnc.add", "127.0.0.1", 1_800_000_005.0),
    ]
    assert audited[0].summary == ("{name: 'R', mode: 'broadcast', on_answer: {app: 'menu'}} "
                                  "-> ok")
    assert audited[1].summary == ("'5550100', {callback: {url: 'https://***@crm/RPC2', "
                                  "method: 'ev'}} -> ok")
    assert audited[2].summary == "9 -> fault 404"
    assert audited[3].summary == "['5550100'] -> fault 403"


def test_unauthenticated_calls_are_not_audited(rpc, audited) -> None:
    fault(rpc, "dialer.call", "5550100", {}, authorization=basic("root", "x"))
    assert audited == []


def test_an_audit_failure_never_blocks_the_call(clock, events, recorder) -> None:
    def broken(entry: AuditEntry) -> Deferred[None]:
        return fail(RuntimeError("database down"))

    def raising(entry: AuditEntry) -> Deferred[None]:
        raise RuntimeError("bug")

    for audit in (broken, raising):
        rpc = build(USERS, clock, [], events, recorder, audit=audit)
        assert call(rpc, "dialer.call", "5550100", {}, authorization=ROOT) == {
            "call_id": "call-1"}
    failures = [e for e in events if e.get("log_failure") is not None]
    assert [type(e["log_failure"].value) for e in failures] == [RuntimeError, RuntimeError]
    assert all(e["method"] == "dialer.call" for e in failures)


def test_summaries_are_short_and_keep_no_secrets() -> None:
    assert summarize([{"password": "x", "api_token": "y", "pin": "1234", "vars": {"pin": "9"}},
                      "http://a:b@host/"]) == (
        "{password: ***, api_token: ***, pin: ***, vars: {pin: ***}}, 'http://***@host/'")
    assert summarize([1, list(range(5000))]) == "1, [5000 items]"
    assert summarize(["x" * 100]) == repr("x" * 57 + "...")
    assert len(summarize([{f"k{i}": "v" * 50 for i in range(20)}])) == 400
    assert summarize([b"\0" * 10, {"a": {"b": {"c": 1}}}]) == "<10 bytes>, {a: {b: {…}}}"


# -------------------------------------------------------------------------------- anonymous


def test_no_user_configured_means_anonymous_calls(clock, audited, events, recorder) -> None:
    rpc = build({}, clock, audited, events, recorder)
    assert call(rpc, "recorder.start", "c1") is True
    assert call(rpc, "recorder.start", "c1", authorization=basic("any", "thing")) is True
    assert recorder.contexts[0].user is None
    assert [(e.user, e.method) for e in audited] == [("anonymous", "recorder.start")] * 2


@pytest.mark.parametrize("peer", ["10.1.2.3", "::ffff:192.168.0.2", "2001:db8::1"])
def test_anonymous_calls_come_from_this_machine_only(clock, audited, events, recorder,
                                                      peer: str) -> None:
    rpc = build({}, clock, audited, events, recorder)
    assert fault(rpc, "recorder.list", peer=peer) == (
        401, "no API user is configured: only calls from this machine are accepted")
    assert call(rpc, "recorder.list", peer="::1") == []
    assert call(rpc, "recorder.list", peer="::ffff:127.0.0.1") == []


def test_dispatch_outside_an_http_request_fails_closed(rpc) -> None:
    failure = []
    rpc.dispatch(CallContext("127.0.0.1", "dialer.campaign.list"), "dialer.campaign.list",
                 []).addErrback(failure.append)
    assert failure[0].check(Unauthorized)


@pytest.mark.parametrize(("endpoint", "open_"), [
    ("tcp:8090:interface=127.0.0.1", False), ("tcp:port=8090:interface=127.0.0.2", False),
    ("tcp:8090:127.0.0.1", False), ("tcp6:8090:interface=\\:\\:1", False),
    ("tcp:8090:interface=localhost", False), ("unix:/run/gtx/api.sock", False),
    ("ssl:8443:privateKey=k.pem:interface=127.0.0.1", False),
    ("tcp:8090", True), ("tcp:8090:interface=0.0.0.0", True), ("tcp6:8090", True),
    ("tcp:8090:interface=192.168.1.5", True), ("ssl:8443:privateKey=k.pem", True),
    ("8090", True), ("systemd:domain=INET:index=0", True),
    ("tcp:8090:interface=gtx.example", True),
])
def test_loopback_check(endpoint: str, open_: bool) -> None:
    problem = check_listen_address(endpoint, {})
    assert (problem is not None) is open_
    if problem:
        assert endpoint in problem
        assert "[user:NAME]" in problem
    assert check_listen_address(endpoint, USERS) is None  # users: it may listen anywhere


def test_access_notice() -> None:
    assert "anonymous calls accepted" in access_notice("tcp:8090:interface=127.0.0.1", {})
    notice = access_notice("tcp:8090", {"root": USERS["root"], "wall": USERS["wall"]})
    assert "users: root (admin), wall (readonly)" in notice
    assert "clear text" in notice
    assert "clear text" not in access_notice("ssl:8443:privateKey=k.pem", USERS)
