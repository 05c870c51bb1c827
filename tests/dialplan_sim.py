"""A small interpreter of the subset of Asterisk dialplan that the files of dialplan/ use.

It exists to test the failover subroutine's *behaviour*, not only its shape. It is honest about
its subset and refuses anything else rather than guessing:

- files parsed by pyst2 (``asterisk.config.Config``): ``exten =>`` and ``same =>`` lines,
  priorities ``1``, ``n``, ``n(label)``, ``N(label)``; contexts of the same name are merged;
- ``${VAR}`` (nested ``${ARG${i}}`` too), ``$[expression]`` with quoted strings, integers,
  ``| & = != < > <= >= + - * / %`` and parentheses; functions LOCAL, FIELDQTY, CUT (one field),
  CALLERID(num);
- variables as Asterisk keeps them: channel variables over globals; ``LOCAL(x)`` saves the
  channel's x in the Gosub frame and restores it on Return/StackPop;
- applications Set, GotoIf, Goto, ExecIf, Gosub, Return, StackPop, AGI and Stasis (their
  outcome scripted by the test: AGISTATUS, STASISSTATUS), TryExec (TRYSTATUS: NOAPP for an
  application outside this subset that the test did not script, FAILED when its script returns
  "FAILED"), Hangup, NoOp, Verbose; Answer, Playback, Dial, Queue, Wait, AMD and UserEvent are
  recorded, and a test may script what one of them does to the channel (AMD sets AMDSTATUS,
  Queue sets QUEUESTATUS) with ``Simulator(..., scripts={"AMD": ...})``;
- a channel hung up by an application stops the dialplan after it, as Asterisk's PBX loop
  does ("returned normally even though call was hung up").
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from asterisk.config import Config


class DialplanError(Exception):
    """The dialplan is malformed, or uses something outside this interpreter's subset."""


@dataclass(frozen=True)
class Priority:
    """One priority of an extension: ``exten => EXTEN,NUMBER(LABEL),APP(DATA)``."""

    number: int
    label: str | None
    app: str
    data: str
    line: int


@dataclass
class Dialplan:
    """Contexts (name → extension → priorities) and the ``[globals]`` section."""

    contexts: dict[str, dict[str, list[Priority]]] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)


_PRIORITY = re.compile(r"^(?P<number>\d+|n)(?:\((?P<label>[A-Za-z_][\w-]*)\))?$")
_APP = re.compile(r"^(?P<app>[A-Za-z]\w*)(?:\((?P<data>.*)\))?$", re.DOTALL)


def split_args(data: str, sep: str = ",") -> list[str]:
    """Split application arguments on ``sep``, outside parentheses and quotes, like Asterisk."""
    parts: list[str] = []
    depth, quoted, current = 0, False, []
    for char in data:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif char == sep and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def load(*configs: Config) -> Dialplan:
    """Build a Dialplan from pyst2 configs, checking that every extension is well-formed."""
    plan = Dialplan()
    for config in configs:
        for category in config.categories:
            if category.name == "globals":
                plan.globals.update({i.name: i.value.strip() for i in category.items})
                continue
            context = plan.contexts.setdefault(category.name, {})
            exten: str | None = None
            for item in category.items:
                value = item.value.strip()
                if item.name == "exten":
                    exten, _, rest = value.partition(",")
                elif item.name == "same":
                    if exten is None:
                        raise DialplanError(f"line {item.number}: `same` before any `exten`")
                    rest = value
                else:
                    raise DialplanError(f"line {item.number}: unexpected {item.name!r}")
                _add_priority(context.setdefault(exten, []), rest, item.number)
    return plan


def _add_priority(priorities: list[Priority], rest: str, line: int) -> None:
    prio_text, _, app_text = rest.partition(",")
    prio = _PRIORITY.match(prio_text.strip())
    app = _APP.match(app_text.strip())
    if prio is None:
        raise DialplanError(f"line {line}: bad priority {prio_text!r}")
    if app is None:
        raise DialplanError(f"line {line}: bad application {app_text!r}")
    expected = len(priorities) + 1
    number = expected if prio["number"] == "n" else int(prio["number"])
    if number != expected:
        raise DialplanError(f"line {line}: priority {number}, expected {expected}")
    label = prio["label"]
    if label is not None and any(p.label == label for p in priorities):
        raise DialplanError(f"line {line}: label {label!r} used twice")
    priorities.append(Priority(number, label, app["app"], app["data"] or "", line))


@dataclass
class Frame:
    """A Gosub frame: where Return goes, and the channel variables LOCAL() shadowed."""

    return_to: tuple[str, str, int] | None
    saved: dict[str, str | None] = field(default_factory=dict)


@dataclass
class Channel:
    """The simulated channel: its variables, Gosub stack and what the dialplan did."""

    name: str = "PJSIP/alice-00000001"
    caller_number: str = "5551234"
    variables: dict[str, str] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=list)
    executed: list[tuple[str, str]] = field(default_factory=list)  # (application, data)
    verbose: list[str] = field(default_factory=list)
    ended: str | None = None  # "hangup", "returned", "fell through"
    #: Where the AGI or Stasis application running now sends the channel when it returns
    #: (FastAGI's SET CONTEXT/EXTENSION/PRIORITY, ARI's continueInDialplan); set by a script.
    continue_at: tuple[str, str, int] | None = None

    def get(self, name: str) -> str:
        """A channel variable's value, "" when unset."""
        return self.variables.get(name, "")


#: Runs AGI(URL,ARGS...) for a test: may change the channel's variables, returns AGISTATUS.
AgiScript = Callable[[Channel, str, list[str]], str]
#: What a recorded application does to the channel in a test: (channel, its arguments). It
#: may return "FAILED" (the application returned an error: TryExec's TRYSTATUS).
AppScript = Callable[[Channel, list[str]], object]
#: Runs Stasis(APP,ARGS...) for a test: may change the channel's variables, returns
#: STASISSTATUS (SUCCESS, FAILED: the application is not registered), or HANGUP.
StasisScript = Callable[[Channel, str, list[str]], str]


class Simulator:
    """Runs a Dialplan on one Channel, with AGI() answered by ``agi``."""

    def __init__(
        self,
        plan: Dialplan,
        agi: AgiScript,
        channel: Channel | None = None,
        scripts: dict[str, AppScript] | None = None,
        stasis: StasisScript | None = None,
    ) -> None:
        self.plan = plan
        self.agi = agi
        self.stasis = stasis
        self.channel = channel or Channel()
        self.scripts = {name.lower(): script for name, script in (scripts or {}).items()}
        self.position: tuple[str, str, int] = ("", "", 0)

    # -- running --------------------------------------------------------------------------

    def gosub(self, context: str, exten: str, args: list[str], max_steps: int = 1000) -> Channel:
        """Run ``Gosub(context,exten,1(args))`` as the first thing the channel does."""
        self._push_frame(None, args)
        self.position = (context, exten, 1)
        return self._run(max_steps)

    def call(self, context: str, exten: str, max_steps: int = 1000) -> Channel:
        """Run the channel from ``context,exten,1``."""
        self.position = (context, exten, 1)
        return self._run(max_steps)

    def _run(self, max_steps: int) -> Channel:
        for _ in range(max_steps):
            if self.channel.ended:
                return self.channel
            context, exten, number = self.position
            priorities = self.plan.contexts.get(context, {}).get(exten)
            if priorities is None:
                raise DialplanError(f"no extension {exten!r} in context {context!r}")
            if number > len(priorities):
                self.channel.ended = "fell through"  # Asterisk's autofallthrough hangs up
                return self.channel
            priority = priorities[number - 1]
            self.position = (context, exten, number + 1)
            self.execute(priority.app, priority.data)
        raise DialplanError(f"still running after {max_steps} priorities: a loop?")

    def execute(self, app: str, raw: str) -> None:
        """Run one application; ``raw`` is its data before variable substitution."""
        handler = getattr(self, f"app_{app.lower()}", None)
        if handler is None:
            raise DialplanError(f"application {app} is outside the simulated subset")
        data = self.substitute(raw)
        self.channel.executed.append((app, data))
        script = self.scripts.get(app.lower())
        if script is not None:
            script(self.channel, split_args(data))
        else:
            handler(data)

    # -- applications ---------------------------------------------------------------------

    def app_set(self, data: str) -> None:
        name, sep, value = data.partition("=")
        if not sep:
            raise DialplanError(f"Set({data}) has no '='")
        self.write(name, value)

    def app_gotoif(self, data: str) -> None:
        condition, _, labels = data.partition("?")
        if_true, _, if_false = labels.partition(":")
        target = if_true if self.true(condition) else if_false
        if target:
            self.app_goto(target)

    def app_goto(self, data: str) -> None:
        context, exten, _ = self.position
        parts = data.split(",")
        if len(parts) == 3:
            context, exten = parts[0], parts[1]
        elif len(parts) == 2:
            exten = parts[0]
        self.position = (context, exten, self.resolve(context, exten, parts[-1]))

    def app_execif(self, data: str) -> None:
        condition, _, apps = data.partition("?")
        branches = split_args(apps, ":")
        chosen = branches[0] if self.true(condition) else [*branches, ""][1]
        if chosen:
            app = _APP.match(chosen)
            if app is None:
                raise DialplanError(f"ExecIf: bad application {chosen!r}")
            # The data was substituted with the ExecIf's; Asterisk does not substitute again.
            handler = getattr(self, f"app_{app['app'].lower()}")
            self.channel.executed.append((app["app"], app["data"] or ""))
            handler(app["data"] or "")

    def app_gosub(self, data: str) -> None:
        where, _, args = data.partition("(")
        args = args.removesuffix(")")
        self._push_frame(self.position, split_args(args) if args else [])
        self.app_goto(where)

    def app_return(self, data: str) -> None:
        self.write("GOSUB_RETVAL", data)
        frame = self._pop_frame("Return")
        if frame.return_to is None:
            self.channel.ended = "returned"
        else:
            self.position = frame.return_to

    def app_stackpop(self, data: str) -> None:
        self._pop_frame("StackPop")

    def app_agi(self, data: str) -> None:
        url, *args = split_args(data)
        status = self.agi(self.channel, url, args)
        self.write("AGISTATUS", status)
        if status == "HANGUP":  # AGI() returns -1: the dialplan stops here
            self.channel.ended = "hangup"
        self._continue_where_sent()

    def app_stasis(self, data: str) -> None:
        if self.stasis is None:
            raise DialplanError(f"Stasis({data}) ran but the test scripted no Stasis application")
        app, *args = split_args(data)
        status = self.stasis(self.channel, app, args)
        self.write("STASISSTATUS", status)
        if status == "HANGUP":  # the caller hung up in the application: the dialplan stops
            self.channel.ended = "hangup"
        self._continue_where_sent()

    def _continue_where_sent(self) -> None:
        if self.channel.continue_at is not None:
            context, exten, number = self.channel.continue_at
            self.channel.continue_at = None
            self.resolve(context, exten, str(number))  # the place must exist
            self.position = (context, exten, number)

    def app_tryexec(self, data: str) -> None:
        app = _APP.match(data)
        if app is None:
            raise DialplanError(f"TryExec: bad application {data!r}")
        name, inner = app["app"], app["data"] or ""
        script = self.scripts.get(name.lower())
        handler = getattr(self, f"app_{name.lower()}", None)
        if script is None and handler is None:
            self.write("TRYSTATUS", "NOAPP")
            return
        self.channel.executed.append((name, inner))  # not substituted again, like Asterisk
        outcome = script(self.channel, split_args(inner)) if script else handler(inner)
        self.write("TRYSTATUS", "FAILED" if outcome == "FAILED" else "SUCCESS")

    def app_hangup(self, data: str) -> None:
        self.channel.ended = "hangup"

    def app_noop(self, data: str) -> None:
        pass

    def app_verbose(self, data: str) -> None:
        level, sep, message = data.partition(",")
        self.channel.verbose.append(message if sep else level)

    # Recorded only (unless scripted): what they do to the media does not matter here.
    app_answer = app_playback = app_dial = app_queue = app_wait = app_amd = app_noop
    app_userevent = app_noop

    # -- variables and expressions --------------------------------------------------------

    def read(self, name: str) -> str:
        """``${name}``: a channel variable, else a global, else ""."""
        if name in self.channel.variables:
            return self.channel.variables[name]
        if name == "CHANNEL":
            return self.channel.name
        return self.plan.globals.get(name, "")

    def write(self, name: str, value: str) -> None:
        """``Set(name=value)``; ``LOCAL(x)`` saves x in the current frame first."""
        local = re.fullmatch(r"LOCAL\((\w+)\)", name)
        if local:
            name = local[1]
            if not self.channel.frames:
                raise DialplanError("LOCAL() outside a Gosub")
            self.channel.frames[-1].saved.setdefault(name, self.channel.variables.get(name))
        if not re.fullmatch(r"_{0,2}[A-Za-z]\w*", name):
            raise DialplanError(f"cannot set {name!r}")
        name = name.lstrip("_")
        if value == "":
            self.channel.variables.pop(name, None)  # Asterisk deletes a variable set to ""
        else:
            self.channel.variables[name] = value

    def function(self, name: str, args: list[str]) -> str:
        """The dialplan functions this interpreter knows."""
        if name == "LOCAL" and len(args) == 1:
            return self.read(args[0])
        if name == "FIELDQTY" and len(args) == 2:
            value = self.read(args[0])
            return str(len(value.split(args[1]))) if value else "0"
        if name == "CUT" and len(args) == 3 and args[2].isdigit():
            fields = self.read(args[0]).split(args[1])
            index = int(args[2]) - 1
            return fields[index] if 0 <= index < len(fields) else ""
        if name == "CALLERID" and args == ["num"]:
            return self.channel.caller_number
        raise DialplanError(f"function {name}({','.join(args)}) is outside the simulated subset")

    def substitute(self, text: str) -> str:
        """Replace every ``${…}`` and ``$[…]``, innermost first."""
        out: list[str] = []
        i = 0
        while i < len(text):
            if text.startswith(("${", "$["), i):
                opener = text[i + 1]
                closer = "}" if opener == "{" else "]"
                depth, j = 1, i + 2
                while j < len(text) and depth:
                    depth += {opener: 1, closer: -1}.get(text[j], 0)
                    j += 1
                if depth:
                    raise DialplanError(f"unbalanced {opener!r} in {text!r}")
                inner = self.substitute(text[i + 2 : j - 1])
                out.append(self._lookup(inner) if opener == "{" else evaluate(inner))
                i = j
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def _lookup(self, inner: str) -> str:
        call = re.fullmatch(r"([A-Z_]+)\((.*)\)", inner, re.DOTALL)
        if call:
            return self.function(call[1], split_args(call[2]))
        if not re.fullmatch(r"\w+", inner):
            raise DialplanError(f"${{{inner}}} is outside the simulated subset")
        return self.read(inner)

    def true(self, condition: str) -> bool:
        """Asterisk's truth: empty or a zero number is false, any other text is true."""
        condition = condition.strip()
        try:
            return float(condition) != 0
        except ValueError:
            return condition != ""

    def resolve(self, context: str, exten: str, label: str) -> int:
        """The priority number of ``label`` (a number or a label name) in context,exten."""
        priorities = self.plan.contexts.get(context, {}).get(exten)
        if priorities is None:
            raise DialplanError(f"Goto: no extension {exten!r} in context {context!r}")
        if label.isdigit() and 1 <= int(label) <= len(priorities):
            return int(label)
        for priority in priorities:
            if priority.label == label:
                return priority.number
        raise DialplanError(f"Goto: no label {label!r} in {context},{exten}")

    def _push_frame(self, return_to: tuple[str, str, int] | None, args: list[str]) -> None:
        self.channel.frames.append(Frame(return_to))
        for index, arg in enumerate(args, start=1):
            self.write(f"LOCAL(ARG{index})", arg)
        self.write("LOCAL(ARGC)", str(len(args)))

    def _pop_frame(self, app: str) -> Frame:
        if not self.channel.frames:
            raise DialplanError(f"{app} with an empty Gosub stack")
        frame = self.channel.frames.pop()
        for name, old in frame.saved.items():
            if old is None:
                self.channel.variables.pop(name, None)
            else:
                self.channel.variables[name] = old
        return frame


_TOKEN = re.compile(
    r'\s*(?:(?P<string>"[^"]*")|(?P<op><=|>=|!=|[-+*/%=<>&|()])|(?P<word>[^\s"()<>=!&|+*/%-]+))'
)


def evaluate(expression: str) -> str:
    """Evaluate a ``$[…]`` expression (after substitution), the way Asterisk's expr does."""
    tokens: list[str] = []
    position = 0
    while position < len(expression.rstrip()):
        match = _TOKEN.match(expression, position)
        if match is None:
            raise DialplanError(f"cannot read expression {expression!r}")
        tokens.append(match[0].strip())
        position = match.end()
    parser = _ExpressionParser(tokens)
    result = parser.parse_or()
    if parser.tokens:
        raise DialplanError(f"trailing {parser.tokens} in expression {expression!r}")
    return result


def _number(text: str) -> int | None:
    return int(text) if re.fullmatch(r"-?\d+", text) else None


class _ExpressionParser:
    """Recursive descent over Asterisk's expression precedence: | & comparisons + - * / %."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens

    def _take(self, *ops: str) -> str | None:
        if self.tokens and self.tokens[0] in ops:
            return self.tokens.pop(0)
        return None

    def parse_or(self) -> str:
        left = self.parse_and()
        while self._take("|"):
            right = self.parse_and()
            left = left if _truthy(left) else right
        return left

    def parse_and(self) -> str:
        left = self.parse_comparison()
        while self._take("&"):
            right = self.parse_comparison()
            left = left if _truthy(left) and _truthy(right) else "0"
        return left

    def parse_comparison(self) -> str:
        left = self.parse_sum()
        while op := self._take("=", "!=", "<", ">", "<=", ">="):
            right = self.parse_sum()
            a, b = _number(left), _number(right)
            compare = _COMPARISONS[op]
            # Numbers compare as numbers, anything else as text (like Asterisk's expr).
            outcome = compare(a, b) if a is not None and b is not None else compare(left, right)
            left = "1" if outcome else "0"
        return left

    def parse_sum(self) -> str:
        left = self.parse_product()
        while op := self._take("+", "-"):
            a, b = _arith(left), _arith(self.parse_product())
            left = str(a + b if op == "+" else a - b)
        return left

    def parse_product(self) -> str:
        left = self.parse_atom()
        while op := self._take("*", "/", "%"):
            a, b = _arith(left), _arith(self.parse_atom())
            if op != "*" and b == 0:
                raise DialplanError("division by zero in an expression")
            left = str(a * b if op == "*" else int(a / b) if op == "/" else a - b * int(a / b))
        return left

    def parse_atom(self) -> str:
        if not self.tokens:
            raise DialplanError("expression ends too early")
        token = self.tokens.pop(0)
        if token == "(":
            value = self.parse_or()
            if self._take(")") is None:
                raise DialplanError("missing ')' in expression")
            return value
        if token.startswith('"'):
            return token[1:-1]
        return token


_COMPARISONS: dict[str, Callable[[object, object], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def _truthy(value: str) -> bool:
    number = _number(value)
    return number != 0 if number is not None else value != ""


def _arith(value: str) -> int:
    number = _number(value)
    if number is None:
        raise DialplanError(f"{value!r} is not a number in an arithmetic expression")
    return number
