"""An emulated Asterisk Manager Interface server: :class:`EmulatedAMIServer`.

A Twisted server factory that speaks AMI like the Asterisk the reference transcripts were
recorded on (``tests/fixtures/asterisk/transcripts/ami-*.txt``): the banner, Login and its
events, Originate with its event streams, Hangup, Getvar/Setvar, CoreShowChannels, QueueStatus,
QueueSummary, UserEvent, MixMonitor/MixMonitorMute/StopMixMonitor (writing WAV files), the
errors of unknown and malformed actions. It shares an
:class:`~gtx.testing.pbx.EmulatedAsterisk` (clock, unique ids, scripted destinations) with the
FastAGI emulator, so an answered call can run a FastAGI session against gtx::

    clock = Clock()
    asterisk = EmulatedAsterisk(clock, destinations={
        "PJSIP/5551234@trunk": DialDestination.answer(after=3, talk=20),
        "PJSIP/5550000@trunk": DialDestination.busy(),
    })
    ami = EmulatedAMIServer(asterisk, fastagi=gtx_fastagi_factory)
    protocol = ami.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40001))   # or listenTCP(0, ami)

Test controls (like a mock server's control handles): :attr:`actions` (every action received),
:meth:`disconnect_all`, :attr:`refuse_logins`, :meth:`set_queue_member`, :meth:`live_channels`,
:meth:`find_call`, :attr:`agi_records`, :attr:`mixmonitors`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import cast

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IProtocolFactory, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.basic import LineOnlyReceiver
from twisted.python.failure import Failure

from gtx.testing.agi_emulator import AGIEmulatorProtocol, CallRecord, failed_call_record
from gtx.testing.ami_calls import PlacedCall
from gtx.testing.ami_dialplan import DEFAULT_DIALPLAN, DialplanRoutine, DialplanRun, run_program
from gtx.testing.ami_events import BANNER, UNKNOWN, AMIChannel, AMIMessage, parse_message
from gtx.testing.ami_mixmonitor import MixMonitors
from gtx.testing.ami_queues import EmulatedQueue, QueueMember
from gtx.testing.emulator import EmulatedCallFactory, MemoryPipe
from gtx.testing.pbx import CallSpec, DialDestination, EmulatedAsterisk

_log = Logger()

#: What ``fastagi=`` accepts: an address (needs ``reactor``), a client endpoint, or a
#: server-side FastAGI factory wired in memory.
FastAGITarget = tuple[str, int] | IStreamClientEndpoint | IProtocolFactory


class AMISession(LineOnlyReceiver):
    """One AMI connection (the server side). Lines end in ``\\r\\n``; a message ends with an
    empty line."""

    delimiter = b"\n"
    MAX_LENGTH = 65536

    def __init__(self, server: EmulatedAMIServer, number: int) -> None:
        self.server = server
        self.number = number
        self.username: str | None = None
        self.authenticated = False
        self.connected_at = 0.0
        self._lines: list[str] = []
        self._held: list[bytes] | None = None
        self._holds = 0

    @property
    def session_id(self) -> str:
        """``SessionID`` as Asterisk prints it (a pointer in hex)."""
        return f"0x7f83{0x08001AB0 + self.number * 0x1000:08x}"

    def address(self, peer: bool) -> str:
        """``LocalAddress``/``RemoteAddress`` as security events print them."""
        transport = self.transport
        if transport is None:
            return "IPV4/TCP/127.0.0.1/0"
        addr = transport.getPeer() if peer else transport.getHost()
        if isinstance(addr, IPv4Address):
            return f"IPV4/TCP/{addr.host}/{addr.port}"
        return "IPV4/TCP/127.0.0.1/0"

    def connectionMade(self) -> None:
        self.connected_at = self.server.asterisk.epoch()
        self.server.sessions.append(self)
        self.send_raw(f"{BANNER}\r\n".encode())

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self in self.server.sessions:
            self.server.sessions.remove(self)

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r")
        if text:
            self._lines.append(text)
            return
        if not self._lines:
            return  # blank lines between messages
        message, self._lines = parse_message(self._lines), []
        self.server.action_received(self, message)

    # -- output --------------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are."""
        if self.transport is not None:
            self.transport.write(data)

    def send(self, message: AMIMessage) -> None:
        """Write a response (never held)."""
        if self.transport is not None:
            self.transport.write(message.encode())

    def send_event(self, message: AMIMessage) -> None:
        """Write an event, or keep it while a synchronous action runs (Asterisk flushes a
        session's events only between its actions)."""
        if self._held is not None:
            self._held.append(message.encode())
        elif self.transport is not None:
            self.transport.write(message.encode())

    def hold_events(self) -> None:
        """Keep events until :meth:`release_events`."""
        self._holds += 1
        if self._held is None:
            self._held = []

    def release_events(self) -> None:
        """Write the events kept since :meth:`hold_events`."""
        self._holds -= 1
        if self._holds > 0 or self._held is None:
            return
        held, self._held = self._held, None
        if self.transport is not None and held:
            self.transport.write(b"".join(held))

    def close(self) -> None:
        """Close the connection."""
        if self.transport is not None:
            self.transport.loseConnection()


class EmulatedAMIServer(Factory):
    """The AMI side of one emulated Asterisk (see the module docstring).

    ``users`` maps AMI usernames to secrets (default ``gtx``/``gtxsecret``, as the reference
    ``manager.conf``). ``dialplan`` maps ``"context,exten"`` to a routine (default:
    ``gtx-dialer,answered``); an Originate to any other context/extension is refused with
    "Extension does not exist.". ``default_destination`` answers dial strings that are not in
    ``asterisk.destinations`` (default: unreachable, Reason 0). ``fastagi`` is where answered
    dialer calls run ``AGI()``; ``reactor`` is needed only for an address.
    """

    def __init__(
        self,
        asterisk: EmulatedAsterisk,
        *,
        users: Mapping[str, str] | None = None,
        dialplan: Mapping[str, DialplanRoutine] | None = None,
        default_destination: DialDestination | None = None,
        fastagi: FastAGITarget | None = None,
        reactor: object | None = None,
    ) -> None:
        self.asterisk = asterisk
        self.users = dict(users if users is not None else {"gtx": "gtxsecret"})
        self.dialplan: dict[str, DialplanRoutine] = dict(
            dialplan if dialplan is not None else DEFAULT_DIALPLAN
        )
        self.default_destination = default_destination or DialDestination.unavailable()
        self.fastagi = fastagi
        self.reactor = reactor
        self.refuse_logins = False
        self.sessions: list[AMISession] = []
        self.actions: list[AMIMessage] = []
        self.calls: list[PlacedCall] = []
        self.queues: dict[str, EmulatedQueue] = {}
        self.global_variables: dict[str, str] = {}
        self.agi_records: list[CallRecord] = []
        #: MixMonitor recordings and their test controls (gtx.testing.ami_mixmonitor).
        self.mixmonitors = MixMonitors(self)
        self.started = asterisk.epoch()
        self._channels: dict[str, tuple[AMIChannel, PlacedCall]] = {}
        self._session_numbers = itertools.count()

    def buildProtocol(self, addr: object) -> AMISession:
        session = AMISession(self, next(self._session_numbers))
        session.factory = self
        return session

    # -- actions -------------------------------------------------------------------------------

    def action_received(self, session: AMISession, message: AMIMessage) -> None:
        """Record and run one action."""
        from gtx.testing.ami_actions import run_action  # the handlers use this module's types

        self.actions.append(message)
        run_action(self, session, message)

    # -- what placed calls need (CallHost) -----------------------------------------------------

    def emit(self, message: AMIMessage, call: PlacedCall | None = None) -> None:
        """Send an event to every logged-in session."""
        for session in list(self.sessions):
            if session.authenticated:
                session.send_event(message)

    def channel_created(self, channel: AMIChannel, call: PlacedCall) -> None:
        """Track a live channel."""
        self._channels[channel.name] = (channel, call)

    def channel_gone(self, channel: AMIChannel) -> None:
        """Forget a channel that hung up."""
        self._channels.pop(channel.name, None)

    def start_program(self, call: PlacedCall) -> None:
        """Run the answered call's application or extension."""
        run_program(call, self.dialplan, self.queues, self._run_fastagi)

    def call_placed(self, call: PlacedCall) -> None:
        """Keep a placed call (until it ends)."""
        self.calls = [c for c in self.calls if not c.ended]
        self.calls.append(call)

    # -- look-ups --------------------------------------------------------------------------------

    def destination_for(self, dial_string: str, number: str) -> DialDestination:
        """The scripted behaviour of a dial string (by full string, then by number)."""
        found = self.asterisk.destinations.get(dial_string) or self.asterisk.destinations.get(
            number
        )
        return found or self.default_destination

    def find_channel(self, name: str) -> tuple[AMIChannel, PlacedCall] | None:
        """A live channel by name or by Uniqueid (as ``ast_channel_get_by_name`` finds it)."""
        found = self._channels.get(name)
        if found is not None:
            return found
        return next((v for v in self._channels.values() if v[0].uniqueid == name), None)

    # -- test controls ---------------------------------------------------------------------------

    def live_channels(self) -> list[AMIChannel]:
        """The channels up now, in creation order."""
        return [channel for channel, _ in self._channels.values()]

    def find_call(self, uniqueid: str) -> PlacedCall | None:
        """A placed call by its originated channel's Uniqueid (the ChannelId)."""
        return next((c for c in self.calls if c.outer and c.outer.uniqueid == uniqueid), None)

    def disconnect_all(self) -> None:
        """Drop every AMI connection (calls go on, as on a real Asterisk)."""
        for session in list(self.sessions):
            session.close()

    def queue(self, name: str) -> EmulatedQueue:
        """The queue named ``name`` (created empty when new)."""
        if name not in self.queues:
            self.queues[name] = EmulatedQueue(name)
        return self.queues[name]

    def set_queue_member(
        self,
        queue: str,
        name: str,
        interface: str | None = None,
        *,
        paused: bool = False,
        available: bool = True,
    ) -> QueueMember:
        """Log a member in (or update it): ``paused``, or ``available=False`` for a device
        that is unavailable. Raises no events (use QueueAdd/QueuePause for those)."""
        interface = interface or f"Local/{name}@gtx-agents"
        q = self.queue(queue)
        member = q.members.get(interface)
        if member is None:
            member = QueueMember(name, interface, login_time=int(self.asterisk.epoch()))
            q.members[interface] = member
        member.paused = paused
        member.unavailable = not available
        return member

    def remove_queue_member(self, queue: str, interface: str) -> None:
        """Log a member out."""
        self.queue(queue).members.pop(interface, None)

    # -- FastAGI ---------------------------------------------------------------------------------

    def _run_fastagi(self, run: DialplanRun, script: str, args: list[str]) -> Deferred[CallRecord]:
        target = self.fastagi
        channel = run.channel
        host, port = target if isinstance(target, tuple) else ("127.0.0.1", 4573)
        spec = CallSpec(
            request=f"agi://{host}:{port}/{script}",
            args=tuple(args),
            channel=channel.name,
            uniqueid=channel.uniqueid,
            caller_number=None if channel.caller_num == UNKNOWN else channel.caller_num,
            caller_name=None if channel.caller_name == UNKNOWN else channel.caller_name,
            context=channel.context,
            extension=channel.exten,
            priority=channel.priority,
            variables=dict(channel.variables),
        )
        if isinstance(target, tuple):
            if self.reactor is None:
                raise TypeError("a FastAGI address needs the reactor to connect with")
            target = TCP4ClientEndpoint(self.reactor, host, port)
        if IStreamClientEndpoint.providedBy(target):
            endpoint: IStreamClientEndpoint = target
            factory = EmulatedCallFactory(self.asterisk, spec, None)
            client = factory.protocol_instance
            connecting = endpoint.connect(factory)
            finished: Deferred[CallRecord] = connecting.addCallbacks(
                lambda _: client.finished,
                lambda _: failed_call_record(self.asterisk, spec),
            )
        else:
            server_side = cast(IProtocolFactory, target).buildProtocol(
                IPv4Address("TCP", "127.0.0.1", 40000 + len(self.agi_records))
            )
            if server_side is None:
                return succeed(failed_call_record(self.asterisk, spec))
            client = AGIEmulatorProtocol(self.asterisk, spec)
            pipe = MemoryPipe(
                client,
                server_side,
                IPv4Address("TCP", "127.0.0.1", 40000),
                IPv4Address("TCP", host, port),
            )
            server_side.makeConnection(pipe.server_transport)
            client.makeConnection(pipe.client_transport)
            finished = client.finished

        def hung_up() -> None:
            if client.call is not None:
                client.call.channel.caller_hangs_up()

        run.call.on_hangup.append(hung_up)

        def done(record: CallRecord) -> CallRecord:
            if hung_up in run.call.on_hangup:
                run.call.on_hangup.remove(hung_up)
            self.agi_records.append(record)
            return record

        return finished.addCallback(done)
