"""How Asterisk reads an AGI command line: argument splitting, the command table, usage texts.

Pure functions, no I/O. The rules follow res_agi.c: arguments are split on spaces and tabs;
a double quote toggles quoting (an opening quote after white space starts a new argument, so
``""`` is an empty argument); a backslash makes the next character literal; a trailing space
adds nothing. Command words match case-insensitively, and the longest registered command that
the words start with wins.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Asterisk keeps at most this many arguments (MAX_ARGS in res_agi.c); the rest is dropped.
MAX_ARGS = 128

USAGE_HEAD = "520-Invalid command syntax.  Proper usage follows:"
USAGE_TAIL = "520 End of proper usage."
DEAD_CHANNEL = "511 Command Not Permitted on a dead channel or intercept routine"
UNKNOWN_COMMAND = "510 Invalid or unknown command"


def parse_args(line: str) -> list[str]:
    """Split an AGI command line into arguments exactly as Asterisk's ``parse_args`` does."""
    argv: list[list[str]] = []
    quoted = escaped = False
    whitespace = True
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                argv.append([])
                whitespace = False
            continue
        if char in " \t" and not quoted and not escaped:
            whitespace = True
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        escaped = False
        if whitespace:
            if len(argv) >= MAX_ARGS - 1:
                continue  # Asterisk drops what does not fit
            argv.append([])
            whitespace = False
        argv[-1].append(char)
    return ["".join(chars) for chars in argv]


@dataclass(frozen=True)
class CommandSpec:
    """One AGI command: its words, whether it runs on a dead channel, and its usage text."""

    words: tuple[str, ...]
    runs_dead: bool
    usage: str

    @property
    def name(self) -> str:
        """The command in upper case, e.g. ``GET DATA``."""
        return " ".join(self.words).upper()


# Usage texts as `agi show commands topic …` prints them on the Asterisk the transcripts were
# taken from; Asterisk sends the same text between the two 520 lines.
_USAGE = {
    "answer": "Answers channel if not already in answer state. Returns '-1' on channel\n"
    "failure, or '0' if successful.\n",
    "get data": "Stream the given <file>, and receive DTMF data.\n"
    "Returns the digits received from the channel at the other end.\n",
    "stream file": "Send the given file, allowing playback to be interrupted by the given digits,\n"
    "if any. Returns '0' if playback completes without a digit being pressed, or the\n"
    "ASCII numerical value of the digit if one was pressed, or '-1' on error or if\n"
    "the channel was disconnected. If musiconhold is playing before calling stream\n"
    "file it will be automatically stopped and will not be restarted after\n"
    "completion.\n"
    "It sets the following channel variables upon completion:\n"
    "${PLAYBACKSTATUS}: The status of the playback attempt as a text string.\n"
    "    SUCCESS\n"
    "    FAILED\n",
    "record file": "Record to a file until a given dtmf digit in the sequence is "
    "received. Returns\n"
    "'-1' on hangup or error.  The format will specify what kind of file will be\n"
    "recorded. The <timeout> is the maximum record time in milliseconds, or '-1' for\n"
    "no <timeout>. <offset samples> is optional, and, if provided, will seek to the\n"
    "offset without exceeding the end of the file. <beep> can take any value, and\n"
    "causes Asterisk to play a beep to the channel that is about to be recorded.\n"
    "<silence> is the number of seconds of silence allowed before the function\n"
    "returns despite the lack of dtmf digits or reaching <timeout>. <silence> value\n"
    "must be preceded by 's=' and is also optional.\n",
    "say digits": "Say a given digit string, returning early if any of the given DTMF digits are\n"
    "received on the channel. Returns '0' if playback completes without a digit\n"
    "being pressed, or the ASCII numerical value of the digit if one was pressed or\n"
    "'-1' on error/hangup.\n",
    "exec": "Executes <application> with given <options>.\n"
    "Returns whatever the <application> returns, or '-2' on failure to find\n"
    "<application>.\n"
    "NOTE: exec does not evaluate dialplan functions and variables unless it is\n"
    "explicitly enabled by setting the ${AGIEXECFULL} variable to 'yes'.\n",
    "set variable": "Sets a variable to the current channel.\n",
    "get variable": "Returns '0' if <variablename> is not set. Returns '1' if "
    "<variablename> is set\n"
    "and returns the variable in parentheses.\n"
    "Example return code: 200 result=1 (testvariable)\n",
    "get full variable": "Evaluates the given <expression> against the channel specified by\n"
    "<channelname>, or the current channel if <channelname> is not provided.\n"
    "Unlike GET VARIABLE, the <expression> is processed in a manner similar to\n"
    "dialplan evaluation, allowing complex and built-in variables to be accessed,\n"
    "e.g. 'The time is ${EPOCH}'\n"
    "Returns '0' if no channel matching <channelname> exists, '1' otherwise.\n"
    "Example return code: 200 result=1 (The time is 1578493800)\n",
    "wait for digit": "Waits up to <timeout> milliseconds for channel to receive a DTMF "
    "digit. Returns\n"
    "'-1' on channel failure, '0' if no digit is received in the timeout, or the\n"
    "numerical value of the ascii of the digit if one is received. Use '-1' for the\n"
    "<timeout> value if you desire the call to block indefinitely.\n",
    "hangup": "Hangs up the specified channel. If no channel name is given, hangs up the\n"
    "current channel\n",
    "get option": "Behaves similar to STREAM FILE but used with a timeout option.\n",
    "channel status": "Returns the status of the specified <channelname>. If no channel "
    "name is given\n"
    "then returns the status of the current channel.\n"
    "Return values:\n"
    "    0 - Channel is down and available.\n"
    "    1 - Channel is down, but reserved.\n"
    "    2 - Channel is off hook.\n"
    "    3 - Digits (or equivalent) have been dialed.\n"
    "    4 - Line is ringing.\n"
    "    5 - Remote end is ringing.\n"
    "    6 - Line is up.\n"
    "    7 - Line is busy.\n",
    "set music": "Enables/Disables the music on hold generator. If <class> is not specified, then\n"
    "the 'default' music on hold class will be used. This generator will be stopped\n"
    "automatically when playing a file.\n"
    "Always returns '0'.\n",
}

# (words, runs on a dead channel, synopsis used as usage when no longer text is known)
_COMMANDS: tuple[tuple[str, bool, str], ...] = (
    ("answer", False, "Answer channel"),
    ("asyncagi break", True, "Interrupts Async AGI"),
    ("channel status", False, ""),
    ("database del", True, "Removes database key/value"),
    ("database deltree", True, "Removes database keytree/value"),
    ("database get", True, "Gets database value"),
    ("database put", True, "Adds/updates database value"),
    ("exec", True, ""),
    ("get data", False, ""),
    ("get full variable", True, ""),
    ("get option", False, ""),
    ("get variable", True, ""),
    ("hangup", False, ""),
    ("noop", True, "Does nothing."),
    ("receive char", False, "Receives one character from channels supporting it."),
    ("receive text", False, "Receives text from channels supporting it."),
    ("record file", False, ""),
    ("say alpha", False, "Says a given character string."),
    ("say digits", False, ""),
    ("say number", False, "Says a given number."),
    ("say phonetic", False, "Says a given character string with phonetics."),
    ("say date", False, "Says a given date."),
    ("say time", False, "Says a given time."),
    ("say datetime", False, "Says a given time as specified by the format given."),
    ("send image", False, "Sends images to channels supporting it."),
    ("send text", False, "Sends text to channels supporting it."),
    ("set autohangup", False, "Autohangup channel in some time."),
    ("set callerid", False, "Sets callerid for the current channel."),
    ("set context", False, "Sets channel context."),
    ("set extension", False, "Changes channel extension."),
    ("set music", False, ""),
    ("set priority", False, "Set channel dialplan priority."),
    ("set variable", True, ""),
    ("stream file", False, ""),
    ("control stream file", False, ""),
    ("tdd mode", False, "Toggles TDD mode (for the deaf)."),
    ("verbose", True, "Logs a message to the asterisk verbose log."),
    ("wait for digit", False, ""),
    ("gosub", False, "Cause the channel to execute the specified dialplan subroutine."),
)

COMMANDS: dict[tuple[str, ...], CommandSpec] = {
    tuple(words.split()): CommandSpec(
        tuple(words.split()), dead, _USAGE.get(words, f"{synopsis}\n")
    )
    for words, dead, synopsis in _COMMANDS
}


def find_command(argv: list[str]) -> CommandSpec | None:
    """The command the arguments name, or None (Asterisk answers ``510``)."""
    lowered = [word.lower() for word in argv[:3]]
    for size in (3, 2, 1):
        if len(lowered) >= size:
            spec = COMMANDS.get(tuple(lowered[:size]))
            if spec is not None:
                return spec
    return None


def usage_lines(spec: CommandSpec) -> list[str]:
    """The lines of the ``520`` reply to a command with bad syntax."""
    body = spec.usage.rstrip("\n").split("\n")
    return [USAGE_HEAD, *body, USAGE_TAIL]
