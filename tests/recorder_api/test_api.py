"""The recorder.* methods through the real authenticated XML-RPC resource, on a fake service."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from twisted.internet.task import Clock

from gtx.config import ApiUser
from gtx.dialer.validate_call import Configured
from gtx.recorder.api import register_recorder_api
from gtx.recorder.model import (
    PauseMode,
    Recording,
    RecordingOptions,
    RecordingState,
    RecordingTarget,
)
from gtx.recorder.urls import RecordingDirectory, UrlSigner
from gtx.xmlrpc.auth import AuthenticatedXMLRPCResource
from tests.dialer_api.rpc import basic, bearer, call, fault
from tests.recorder_api.fakes import T0, FakeRecorderService

USERS = {
    "root": ApiUser("root", "admin", password="s3cret"),
    "crm": ApiUser("crm", "dialer", token="tok-crm"),
    "rec": ApiUser("rec", "recorder", token="tok-rec"),
    "wall": ApiUser("wall", "readonly", password="look"),
}
REC = bearer("tok-rec")
CRM = bearer("tok-crm")
ROOT = basic("root", "s3cret")
WALL = basic("wall", "look")
NOW = 1_800_000_000.0


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.advance(NOW)
    return clock


@pytest.fixture
def service(tmp_path: Path) -> FakeRecorderService:
    return FakeRecorderService(tmp_path)


@pytest.fixture
def rpc(service: FakeRecorderService, clock: Clock, tmp_path: Path
        ) -> AuthenticatedXMLRPCResource:
    resource = AuthenticatedXMLRPCResource(USERS, clock=clock)
    signer = UrlSigner(b"k" * 32, clock, base_url="https://gtx.example:8090/", ttl=600)
    register_recorder_api(resource, service, signer, RecordingDirectory(str(tmp_path)),
                          Configured(servers=frozenset({"pbx1"})))
    return resource


def test_every_method_is_registered(rpc: AuthenticatedXMLRPCResource) -> None:
    names = {n for n in call(rpc, "system.listMethods", authorization=REC)
             if n.startswith("recorder.")}
    assert names == {f"recorder.{m}" for m in (
        "start", "stop", "pause", "resume", "get", "list", "delete", "url")}


def test_start_answers_the_recording_struct(rpc: AuthenticatedXMLRPCResource,
                                            service: FakeRecorderService,
                                            tmp_path: Path) -> None:
    answer = call(rpc, "recorder.start", {"channel": "PJSIP/alice-00000001"},
                  {"format": "gsm", "name": "{date}-{recording_id}", "beep": True,
                   "metadata": {"ticket": "T-42", "path": "a/../b"},
                   "callback": {"url": "http://crm/RPC2", "method": "rec.event"}},
                  authorization=REC)
    assert answer == {
        "recording_id": "rec-1",
        "state": "recording",
        "files": [str(tmp_path / "20261118-rec-1.gsm")],
        "started": "2026-11-18T11:06:40.000Z",
        "target": {"channel": "PJSIP/alice-00000001"},
        "options": {"format": "gsm", "split": False, "beep": 15,
                    "name": "{date}-{recording_id}",
                    "callback": {"url": "http://crm/RPC2", "method": "rec.event"}},
        "metadata": {"ticket": "T-42", "path": "a/../b"},
        "started_by": "rec",
        "channel": "PJSIP/alice-00000001",
        "asterisk": "pbx1",
        "node": "gtx1",
        "reachable": False,  # the fake writes nothing
    }
    target, options, started_by = service.log[0][1]
    assert target == RecordingTarget(channel="PJSIP/alice-00000001")
    assert options.format == "gsm"
    assert started_by == "rec"


def test_a_bad_argument_is_a_fault_400_and_reaches_no_service(
        rpc: AuthenticatedXMLRPCResource, service: FakeRecorderService) -> None:
    code, message = fault(rpc, "recorder.start", {"channel": "PJSIP/a-1"},
                          {"name": "../../etc/{recording_id}"}, authorization=REC)
    assert code == 400
    assert message.startswith("options.name: a file name, not a path")
    code, message = fault(rpc, "recorder.start", {"channel": "PJSIP/a-1", "asterisk": "x"},
                          authorization=REC)
    assert (code, message) == (400, "target.asterisk: no Asterisk server 'x' in gtx.ini; "
                                     "configured servers: pbx1")
    assert service.log == []


def test_a_channel_that_does_not_exist_is_the_services_fault(
        rpc: AuthenticatedXMLRPCResource) -> None:
    code, message = fault(rpc, "recorder.start", {"channel": "PJSIP/gone-00000001"},
                          authorization=REC)
    assert code == 404
    assert "no channel" in message


def test_stop_pause_resume_and_their_conflicts(rpc: AuthenticatedXMLRPCResource) -> None:
    call(rpc, "recorder.start", {"call_id": "call-1"}, authorization=REC)
    assert call(rpc, "recorder.pause", "rec-1", authorization=REC)["state"] == "paused"
    assert fault(rpc, "recorder.pause", "rec-1", authorization=REC) == (
        409, "recording rec-1 is paused")
    assert call(rpc, "recorder.resume", "rec-1", authorization=REC)["state"] == "recording"
    stopped = call(rpc, "recorder.stop", "rec-1", authorization=REC)
    assert stopped["state"] == "stopped"
    assert stopped["ended"] == "2026-11-18T11:07:10.000Z"
    assert fault(rpc, "recorder.stop", "rec-1", authorization=REC) == (
        409, "recording rec-1 is stopped")


def test_pause_modes(rpc: AuthenticatedXMLRPCResource, service: FakeRecorderService) -> None:
    call(rpc, "recorder.start", {"call_id": "call-1"}, authorization=REC)
    assert fault(rpc, "recorder.pause", "rec-1", {"mode": "gaps"}, authorization=REC) == (
        400, "options.mode: 'gaps' is not one of gap, silence (did you mean 'gap'?)")
    assert fault(rpc, "recorder.pause", "rec-1", {"how": "gap"}, authorization=REC)[0] == 400
    assert service.pause_modes == []
    assert call(rpc, "recorder.pause", "rec-1", {"mode": "gap"},
                authorization=REC)["state"] == "paused"
    call(rpc, "recorder.resume", "rec-1", authorization=REC)
    call(rpc, "recorder.pause", "rec-1", {"mode": "silence"}, authorization=REC)
    call(rpc, "recorder.resume", "rec-1", authorization=REC)
    call(rpc, "recorder.pause", "rec-1", {}, authorization=REC)
    assert service.pause_modes == [PauseMode.GAP, PauseMode.SILENCE, PauseMode.SILENCE]


def test_unknown_and_malformed_ids(rpc: AuthenticatedXMLRPCResource) -> None:
    for method in ("stop", "pause", "resume", "get", "delete", "url"):
        assert fault(rpc, f"recorder.{method}", "rec-404", authorization=REC) == (
            404, "no recording 'rec-404'")
        code, message = fault(rpc, f"recorder.{method}", "../rec", authorization=REC)
        assert code == 400
        assert message.startswith("recording_id: expected a recording id")


def test_get_a_ready_recording(rpc: AuthenticatedXMLRPCResource, service: FakeRecorderService,
                               tmp_path: Path) -> None:
    file = tmp_path / "r9.wav"
    file.write_bytes(b"RIFF" + bytes(40))
    service.add(Recording(
        "r9", RecordingTarget(session="s1"), RecordingOptions(metadata={"a": 1}),
        RecordingState.READY, (str(file),), started=T0, started_by="ivr:s1", ended=T0 + 12.5,
        duration=12.5, size=44, error=None, campaign_id=None))
    answer = call(rpc, "recorder.get", "r9", authorization=REC)
    assert answer["state"] == "ready"
    assert (answer["duration"], answer["size"], answer["reachable"]) == (12.5, 44, True)
    assert answer["ended"] == "2026-11-18T11:06:52.500Z"
    assert answer["started_by"] == "ivr:s1"
    assert "error" not in answer
    assert "channel" not in answer


def test_list_passes_the_filter_and_pages(rpc: AuthenticatedXMLRPCResource,
                                          service: FakeRecorderService) -> None:
    for _ in range(3):
        call(rpc, "recorder.start", {"channel": "PJSIP/a-1"}, authorization=REC)
    page = call(rpc, "recorder.list", {"limit": 2, "state": "recording"}, authorization=REC)
    assert [r["recording_id"] for r in page["recordings"]] == ["rec-1", "rec-2"]
    assert page["next"] == "rec-2"
    last = call(rpc, "recorder.list", {"limit": 2, "after": page["next"]}, authorization=REC)
    assert [r["recording_id"] for r in last["recordings"]] == ["rec-3"]
    assert "next" not in last
    assert service.filters[0].states == {RecordingState.RECORDING}
    assert call(rpc, "recorder.list", authorization=REC)["recordings"][0]["state"] == (
        "recording")
    assert fault(rpc, "recorder.list", {"limit": 0}, authorization=REC)[0] == 400


def test_delete(rpc: AuthenticatedXMLRPCResource) -> None:
    call(rpc, "recorder.start", {"channel": "PJSIP/a-1"}, authorization=REC)
    assert fault(rpc, "recorder.delete", "rec-1", authorization=REC) == (
        409, "recording rec-1 is recording")
    call(rpc, "recorder.stop", "rec-1", authorization=REC)
    assert call(rpc, "recorder.delete", "rec-1", authorization=REC) is True
    deleted = call(rpc, "recorder.get", "rec-1", authorization=REC)
    assert (deleted["state"], deleted["reachable"]) == ("deleted", False)


# ------------------------------------------------------------------------------ recorder.url


def _ready(service: FakeRecorderService, tmp_path: Path, *names: str) -> None:
    paths = []
    for name in names:
        (tmp_path / name).write_bytes(b"audio")
        paths.append(str(tmp_path / name))
    service.add(Recording("r1", RecordingTarget(channel="PJSIP/a-1"), RecordingOptions(),
                          RecordingState.READY, tuple(paths), started=T0, started_by="rec"))


def test_url_signs_the_first_file_for_the_configured_ttl(
        rpc: AuthenticatedXMLRPCResource, service: FakeRecorderService, clock: Clock,
        tmp_path: Path) -> None:
    _ready(service, tmp_path, "r1.wav", "r1-in.wav", "r1-out.wav")
    url = call(rpc, "recorder.url", "r1", authorization=REC)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https", "gtx.example:8090", "/recordings/r1/r1.wav")
    query = parse_qs(parts.query)
    assert query["expires"] == [str(int(NOW) + 600)]
    assert len(query["signature"][0]) == 64
    leg = call(rpc, "recorder.url", "r1", {"file": "r1-out.wav", "ttl": 30},
               authorization=REC)
    assert "/recordings/r1/r1-out.wav?expires=" + str(int(NOW) + 30) in leg


def test_url_faults(rpc: AuthenticatedXMLRPCResource, service: FakeRecorderService,
                    tmp_path: Path) -> None:
    _ready(service, tmp_path, "r1.wav")
    code, message = fault(rpc, "recorder.url", "r1", {"file": "r2.wav"}, authorization=REC)
    assert (code, message) == (400, "options.file: 'r2.wav' is not a file of recording r1; "
                                     "its files: r1.wav")
    assert fault(rpc, "recorder.url", "r1", {"ttl": 601}, authorization=REC)[0] == 400
    (tmp_path / "r1.wav").unlink()
    code, message = fault(rpc, "recorder.url", "r1", authorization=REC)
    assert code == 409
    assert "not reachable" in message
    service.recordings["r1"] = replace(service.recordings["r1"], state=RecordingState.DELETED)
    assert fault(rpc, "recorder.url", "r1", authorization=REC) == (
        409, "recording r1 is deleted: its files are gone")


# ------------------------------------------------------------------------------------ roles


def test_the_recorder_and_admin_roles_may_call_the_dialer_role_may_not(
        rpc: AuthenticatedXMLRPCResource, service: FakeRecorderService) -> None:
    assert call(rpc, "recorder.start", {"channel": "PJSIP/a-1"},
                authorization=ROOT)["started_by"] == "root"
    code, message = fault(rpc, "recorder.start", {"channel": "PJSIP/a-1"}, authorization=CRM)
    assert code == 403
    assert "recorder.start is not allowed for role 'dialer'" in message
    assert fault(rpc, "recorder.get", "rec-1", authorization=CRM)[0] == 403
    assert fault(rpc, "recorder.stop", "rec-1", authorization=WALL)[0] == 403
    assert call(rpc, "recorder.list", authorization=WALL)["recordings"]
    assert fault(rpc, "recorder.list", authorization=None)[0] == 401
    assert len(service.recordings) == 1


def test_every_method_and_option_is_documented(rpc: AuthenticatedXMLRPCResource) -> None:
    from gtx.recorder import validate as v
    from tests.conftest import ROOT as REPO

    doc = (REPO / "docs" / "recorder-api.md").read_text()
    for name in call(rpc, "system.listMethods", authorization=REC):
        if name.startswith("recorder."):
            assert f"`{name}(" in doc, name
    for key in (*v.OPTION_KEYS, *v.FILTER_KEYS, *v.TARGET_KEYS, *v.FORMATS, *v.PLACEHOLDERS,
                *v.PAUSE_KEYS, *v.PAUSE_MODES):
        assert f"`{key}`" in doc or f"{{{key}}}" in doc, key
    for state in RecordingState:
        assert f"| `{state.value}` |" in doc, state
