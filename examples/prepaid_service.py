"""A prepaid calling card as an XML-RPC web service for gtx — written the way an integrator would.

Only the standard library. Every request carries the call's state in ``vars`` (the account, the
number of wrong PINs, the destination), so the service keeps nothing per call; the only state
it owns is the account book, which a real service would keep in its database.

The call flow (sound names are Asterisk's)::

    prepaid.start    answer, read the PIN (4 to 8 digits, then #)
    prepaid.pin      unknown PIN → read it again; the third wrong one → goodbye
                     known PIN → say the balance, read the number to call
    prepaid.dial     dial it, with a time limit the balance pays for at RATE per minute
    prepaid.dialed   answered → debit every started minute, say the new balance, goodbye
                     not answered → apology, the balance unchanged, goodbye
    prepaid.hangup   the caller hung up (gtx's hangup_method): a call cut by the caller is
                     debited too

A charge is keyed by the session, so a step re-run after a gtx node failover (request
``resumed``) or the hang-up call never debits a call twice.

Run it with ``python examples/prepaid_service.py --port 8001`` and point gtx.ini at it::

    [ivr:prepaid]
    url = http://127.0.0.1:8001/RPC2
    method = prepaid.start
    hangup_method = prepaid.hangup
"""

from __future__ import annotations

import argparse
import contextlib
import math
import socketserver
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from xmlrpc.client import Fault
from xmlrpc.server import SimpleXMLRPCServer

#: XML-RPC fault code for "invalid method parameters" (the fault code interop convention).
INVALID_REQUEST = -32602

#: Price of a started minute, in cents.
RATE = 10
#: Wrong PINs allowed before the call ends.
MAX_PIN_FAILURES = 3
#: How a dialled number becomes a dial string: the dialplan's gtx-outbound picks the trunk.
DIAL_TEMPLATE = "Local/{number}@gtx-outbound"


@dataclass(frozen=True)
class Account:
    """A prepaid account: its number, its PIN and its balance in cents."""

    number: str
    pin: str
    balance: int


#: The demo accounts (a real service reads them from its database).
ACCOUNTS = (
    Account("1001", "1234", 500),
    Account("1002", "98765432", 75),
    Account("1003", "4321", 5),
)


class AccountBook:
    """Balances, safe to use from the server's request threads; charges are idempotent."""

    def __init__(self, accounts: Iterable[Account] = ACCOUNTS) -> None:
        self._accounts = {account.number: account for account in accounts}
        self._charges: dict[str, int] = {}  # charge key → cents debited
        self._lock = threading.Lock()

    def find_by_pin(self, pin: str) -> Account | None:
        """The account whose PIN this is, if any."""
        with self._lock:
            return next((a for a in self._accounts.values() if a.pin == pin), None)

    def balance(self, number: str) -> int:
        """The account's balance in cents."""
        with self._lock:
            return self._accounts[number].balance

    def debit(self, number: str, cents: int, key: str) -> int:
        """Take ``cents`` (never below zero) once per ``key``; return the new balance."""
        with self._lock:
            account = self._accounts[number]
            if key not in self._charges:
                cents = min(cents, account.balance)
                self._charges[key] = cents
                account = Account(account.number, account.pin, account.balance - cents)
                self._accounts[number] = account
            return account.balance

    def charged(self, key: str) -> int | None:
        """What was debited under ``key``, None if nothing was."""
        with self._lock:
            return self._charges.get(key)


def fault(message: str) -> Fault:
    """The fault answered for a request this service cannot make sense of."""
    return Fault(INVALID_REQUEST, message)


def field(struct: Any, name: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``struct[name]``, checked to be of ``kind`` (a bool is not a number here)."""
    if not isinstance(struct, dict):
        raise fault(f"{where}: expected a struct, got {type(struct).__name__}")
    value = struct.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        expected = " or ".join(k.__name__ for k in kinds)
        raise fault(f"{where}.{name}: expected {expected}, got {value!r}")
    return value


def check_request(request: Any) -> dict[str, Any]:
    """The fields every step needs, validated; the request itself is returned."""
    field(request, "session", str, "request")
    if field(request, "step", int, "request") < 1:
        raise fault(f"request.step: expected 1 or more, got {request['step']}")
    field(request, "vars", dict, "request")
    field(request, "result", dict, "request")
    return dict(request)


def read_outcome(request: dict[str, Any], name: str) -> str:
    """The digits of the read called ``name`` in the previous step, "" unless it succeeded."""
    outcome = field(request["result"], name, dict, "result")
    if field(outcome, "status", str, f"result.{name}") != "ok":
        return ""
    return str(field(outcome, "digits", str, f"result.{name}"))


def read_pin(prompt: str) -> dict[str, Any]:
    """Read a PIN: 4 to 8 digits, ended by # (or by the 8th digit)."""
    return {
        "action": "read",
        "name": "pin",
        "prompt": [prompt],
        "min_digits": 4,
        "max_digits": 8,
        "terminator": "#",
        "timeout": 10,
        "attempts": 1,
        "pattern": r"\d{4,8}",
    }


def say_balance(cents: int) -> list[dict[str, Any]]:
    """ "Your account balance is N dollars M cents"."""
    dollars, rest = divmod(cents, 100)
    return [
        {"action": "play", "files": ["account-balance-is"]},
        {"action": "say", "type": "number", "value": dollars},
        {"action": "play", "files": ["dollars"]},
        {"action": "say", "type": "number", "value": rest},
        {"action": "play", "files": ["cents"]},
    ]


def goodbye(*prompts: str) -> list[dict[str, Any]]:
    """Play the prompts, say goodbye and hang up."""
    return [{"action": "play", "files": [*prompts, "vm-goodbye"]}, {"action": "hangup"}]


class PrepaidService:
    """The calling card's steps, over an AccountBook."""

    def __init__(
        self, accounts: AccountBook, rate: int = RATE, dial_template: str = DIAL_TEMPLATE
    ) -> None:
        self.accounts = accounts
        self.rate = rate
        self.dial_template = dial_template

    def start(self, request: Any) -> dict[str, Any]:
        """Step 1: answer and ask for the PIN."""
        check_request(request)
        return {
            "actions": [{"action": "answer"}, read_pin("agent-pass")],
            "next": "prepaid.pin",
            "vars": {"pin_failures": 0},
        }

    def pin(self, request: Any) -> dict[str, Any]:
        """Check the PIN: the balance and the number to call, or another try."""
        request = check_request(request)
        failures = field(request["vars"], "pin_failures", int, "vars")
        entered = read_outcome(request, "pin")
        account = self.accounts.find_by_pin(entered) if entered else None
        if account is None:
            failures += 1
            if failures >= MAX_PIN_FAILURES:
                return {"actions": goodbye("vm-incorrect"), "vars": {"pin_failures": failures}}
            return {
                "actions": [read_pin("auth-incorrect")],  # "password incorrect, enter it again"
                "next": "prepaid.pin",
                "vars": {"pin_failures": failures},
            }
        actions = say_balance(account.balance)
        if account.balance < self.rate:
            return {"actions": actions + goodbye("not-enough-credit")}
        number = {
            "action": "read",
            "name": "number",
            "prompt": ["vm-enter-num-to-call"],
            "min_digits": 3,
            "max_digits": 15,
            "terminator": "#",
            "timeout": 10,
            "attempts": 2,
            "pattern": r"\d{3,15}",
        }
        return {
            "actions": [*actions, number],
            "next": "prepaid.dial",
            "vars": {"account": account.number, "pin_failures": failures},
        }

    def dial(self, request: Any) -> dict[str, Any]:
        """Call the number, for no longer than the balance pays for."""
        request = check_request(request)
        account = self._account(request)
        number = read_outcome(request, "number")
        if not number:
            return {"actions": goodbye()}
        minutes = self.accounts.balance(account) // self.rate
        if minutes < 1:
            return {"actions": goodbye("not-enough-credit")}
        call = {
            "action": "dial",
            "name": "call",
            "target": self.dial_template.format(number=number),
            "timeout": 45,
            "time_limit": minutes * 60,
            "options": "g",  # the caller stays when the called party hangs up: say the balance
        }
        return {"actions": [call], "next": "prepaid.dialed", "vars": {"destination": number}}

    def dialed(self, request: Any) -> dict[str, Any]:
        """Debit an answered call and say the new balance; apologise for one that was not."""
        request = check_request(request)
        account = self._account(request)
        call = field(request["result"], "call", dict, "result")
        if field(call, "status", str, "result.call") != "ok":
            balance = self.accounts.balance(account)
            return {"actions": [*say_balance(balance), *goodbye("nbdy-avail-to-take-call")]}
        charge = self._charge(request, account, call)
        balance = self.accounts.balance(account)
        return {"actions": [*say_balance(balance), *goodbye()], "vars": {"charged": charge}}

    def hangup(self, request: Any) -> dict[str, Any]:
        """gtx's hangup_method: a call the caller ended by hanging up is debited here."""
        request = check_request(request)
        call = request["result"].get("call")
        if isinstance(call, dict) and "account" in request["vars"]:
            self._charge(request, self._account(request), call)
        return {}

    def _account(self, request: dict[str, Any]) -> str:
        account = field(request["vars"], "account", str, "vars")
        try:
            self.accounts.balance(account)
        except KeyError:
            raise fault(f"vars.account: no account {account!r}") from None
        return str(account)

    def _charge(self, request: dict[str, Any], account: str, call: dict[str, Any]) -> int:
        """Debit every started minute of the answered call, once per session."""
        seconds = field(call, "answered_seconds", (int, float), "result.call")
        if seconds < 0:
            raise fault(f"result.call.answered_seconds: expected 0 or more, got {seconds}")
        cents = math.ceil(seconds / 60) * self.rate
        key = request["session"]
        self.accounts.debit(account, cents, key)
        return self.accounts.charged(key) or 0


class ThreadedXMLRPCServer(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    """One thread per request: a slow call never holds up the others."""

    daemon_threads = True
    service: Any = None  # the object whose methods are served, for tests and callers


def build_server(
    host: str = "127.0.0.1",
    port: int = 8001,
    accounts: AccountBook | None = None,
    rate: int = RATE,
    dial_template: str = DIAL_TEMPLATE,
) -> ThreadedXMLRPCServer:
    """The bound (not yet serving) XML-RPC server; ``server.service`` is the PrepaidService."""
    book = accounts if accounts is not None else AccountBook()
    service = PrepaidService(book, rate, dial_template)
    server = ThreadedXMLRPCServer((host, port), allow_none=True, logRequests=False)
    server.register_introspection_functions()
    for step in ("start", "pin", "dial", "dialed", "hangup"):
        server.register_function(getattr(service, step), f"prepaid.{step}")
    server.service = service
    return server


def main(argv: list[str] | None = None) -> None:
    """Serve the calling card until interrupted."""
    parser = argparse.ArgumentParser(description="The gtx example prepaid card service.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on")
    args = parser.parse_args(argv)
    with build_server(args.host, args.port) as server:
        host, port = server.server_address[:2]
        print(f"prepaid service on http://{host}:{port}/RPC2")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
