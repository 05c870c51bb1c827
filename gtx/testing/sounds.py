"""The sound files the emulated Asterisk knows, with their lengths.

Lengths are in samples at 8 kHz, the unit of ``endpos`` in STREAM FILE replies. The catalogue
starts with a few of Asterisk's core sounds (``hello-world`` is 11234 samples long, as a real
Asterisk reports it); tests register their own files with :meth:`SoundCatalogue.add`.
A name that is not in the catalogue is a missing file (``200 result=-1 endpos=0``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Samples per second of every sound in the catalogue (endpos unit).
SAMPLE_RATE = 8000

_CORE_SOUNDS: dict[str, int] = {
    "hello-world": 11234,
    "beep": 2080,
    "silence/1": 8000,
    "silence/2": 16000,
    "silence/3": 24000,
    "silence/5": 40000,
    "silence/10": 80000,
    "an-error-has-occured": 12800,
    "vm-goodbye": 6400,
    "goodbye": 6400,
    "demo-congrats": 90000,
    "welcome": 9600,
    "please-try-again": 11200,
    "auth-thankyou": 8000,
    "pbx-invalid": 14400,
    "vm-intro": 36000,
    "conf-onlyperson": 16000,
    "tt-weasels": 40000,
    "queue-thankyou": 9600,
    "letters/at": 3200,
    "digits/hundred": 4000,
    "digits/thousand": 4800,
    "digits/million": 4800,
    "digits/minus": 4000,
    "digits/oclock": 4800,
    "digits/a-m": 4000,
    "digits/p-m": 4000,
}
_CORE_SOUNDS.update({f"digits/{n}": 3600 for n in range(0, 21)})
_CORE_SOUNDS.update({f"digits/{n}": 4000 for n in range(30, 100, 10)})
_CORE_SOUNDS.update({f"letters/{c}": 3200 for c in "abcdefghijklmnopqrstuvwxyz"})
_CORE_SOUNDS.update({f"phonetic/{c}_p": 4800 for c in "abcdefghijklmnopqrstuvwxyz"})
_CORE_SOUNDS.update({f"digits/day-{n}": 4800 for n in range(7)})
_CORE_SOUNDS.update({f"digits/mon-{n}": 4800 for n in range(12)})
_CORE_SOUNDS.update({"digits/star": 3200, "digits/pound": 3600, "digits/oh": 3600})
_CORE_SOUNDS.update({f"letters/{name}": 4000 for name in (
    "dash", "dot", "plus", "slash", "space", "equals", "dollar", "exclaimation-point")})
_CORE_SOUNDS.update({f"digits/h-{n}": 4400 for n in range(1, 32)})


class SoundCatalogue:
    """Known sound files (names without extension, as AGI commands give them) → length.

    >>> sounds = SoundCatalogue()
    >>> sounds.add("custom/menu", seconds=3.5)
    >>> sounds.samples("custom/menu")
    28000
    """

    def __init__(self, sounds: Mapping[str, int] | None = None, *, core: bool = True) -> None:
        self._samples: dict[str, int] = dict(_CORE_SOUNDS) if core else {}
        if sounds:
            self._samples.update(sounds)

    def add(self, name: str, *, seconds: float | None = None, samples: int | None = None) -> None:
        """Register a sound file, with its length in seconds or in samples (default 1 s)."""
        if samples is None:
            samples = round((1.0 if seconds is None else seconds) * SAMPLE_RATE)
        self._samples[_normalise(name)] = samples

    def add_many(self, names: Iterable[str], *, seconds: float = 1.0) -> None:
        """Register several files of the same length."""
        for name in names:
            self.add(name, seconds=seconds)

    def remove(self, name: str) -> None:
        """Forget a file: playing it then fails as a missing file does."""
        self._samples.pop(_normalise(name), None)

    def samples(self, name: str) -> int | None:
        """The length of ``name`` in samples, or None when the file does not exist."""
        return self._samples.get(_normalise(name))

    def seconds(self, name: str) -> float | None:
        """The length of ``name`` in seconds, or None when the file does not exist."""
        samples = self.samples(name)
        return None if samples is None else samples / SAMPLE_RATE

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalise(name) in self._samples


def _normalise(name: str) -> str:
    # Asterisk looks up sounds under its sounds directory: an absolute path into it and the
    # short name name the same file; the extension is never part of the name.
    for prefix in ("/var/lib/asterisk/sounds/en/", "/var/lib/asterisk/sounds/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


class AnySoundCatalogue(SoundCatalogue):
    """A catalogue in which every sound exists: Asterisk's core sounds with their lengths, and
    any other name with ``default_seconds``. For trying out a web service whose prompts the
    emulator cannot know (``gtx simulate``, ``gtx demo``); tests of missing files use
    :class:`SoundCatalogue`."""

    def __init__(self, default_seconds: float = 1.5) -> None:
        super().__init__()
        self.default_samples = round(default_seconds * SAMPLE_RATE)

    def samples(self, name: str) -> int | None:
        known = super().samples(name)
        return self.default_samples if known is None else known

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)
