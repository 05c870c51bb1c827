"""WAV files as Asterisk's ``format_wav`` writes them: RIFF/WAVE, 8 kHz, 16-bit mono PCM.

The header is 44 bytes. Like ``format_wav``, :class:`WavWriter` writes it with both sizes at 0
when the file opens, appends samples as they come, and puts the real sizes in when the file is
closed — so a recording still being written has a header that does not count its data, and a
recording that received no audio at all is the 44-byte header alone. Durations are read from
the data size: ``duration = data bytes / 16000``.

Sound is generated, not sampled: :func:`tone` and :func:`silence`, with the phase taken from
the absolute sample index so that pieces written one after the other join without a click.
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gtx.testing.sounds import SAMPLE_RATE

SAMPLE_BYTES = 2
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_BYTES
HEADER_BYTES = 44
_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")
#: The loudness of generated tones (of 32767).
AMPLITUDE = 8000


def wav_header(data_bytes: int) -> bytes:
    """The 44-byte header of a file holding ``data_bytes`` bytes of samples."""
    return _HEADER.pack(b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, 1, SAMPLE_RATE,
                        BYTES_PER_SECOND, SAMPLE_BYTES, 16, b"data", data_bytes)


@dataclass(frozen=True)
class WavInfo:
    """What a WAV header says."""

    riff_size: int
    audio_format: int
    channels: int
    sample_rate: int
    byte_rate: int
    block_align: int
    bits: int
    data_bytes: int

    @property
    def duration(self) -> float:
        """Seconds of sound the header counts."""
        return self.data_bytes / self.byte_rate if self.byte_rate else 0.0


def read_wav_header(data: bytes) -> WavInfo:
    """Parse the 44-byte header at the start of ``data``; ValueError if it is not one."""
    if len(data) < HEADER_BYTES:
        raise ValueError(f"{len(data)} bytes: too short for a WAV header")
    (riff, riff_size, wave, fmt, fmt_size, audio_format, channels, rate, byte_rate, align, bits,
     chunk, data_bytes) = _HEADER.unpack_from(data)
    if (riff, wave, fmt, chunk, fmt_size) != (b"RIFF", b"WAVE", b"fmt ", b"data", 16):
        raise ValueError("not a RIFF/WAVE file with a 16-byte fmt chunk")
    return WavInfo(riff_size, audio_format, channels, rate, byte_rate, align, bits, data_bytes)


def silence(samples: int) -> bytes:
    """``samples`` samples of silence."""
    return bytes(samples * SAMPLE_BYTES)


@cache
def _period(frequencies: tuple[int, ...]) -> tuple[int, bytes]:
    """One period (in samples) of the sum of tones at ``frequencies`` (Hz, dividing 8000)."""
    length = 1
    for frequency in frequencies:
        length = math.lcm(length, SAMPLE_RATE // math.gcd(SAMPLE_RATE, frequency))
    samples = array("h", (
        max(-32767, min(32767, round(sum(
            AMPLITUDE * math.sin(2 * math.pi * f * i / SAMPLE_RATE) for f in frequencies))))
        for i in range(length)))
    if sys.byteorder == "big":
        samples.byteswap()
    return length, samples.tobytes()


def tone(frequencies: tuple[int, ...], start: int, samples: int) -> bytes:
    """``samples`` samples of the sum of tones at ``frequencies`` (Hz), starting at absolute
    sample ``start`` (silence when ``frequencies`` is empty)."""
    if not frequencies or samples <= 0:
        return silence(max(samples, 0))
    length, period = _period(tuple(sorted(frequencies)))
    offset = (start % length) * SAMPLE_BYTES
    rotated = period[offset:] + period[:offset]
    repeats = samples // length + 1
    return (rotated * repeats)[: samples * SAMPLE_BYTES]


class WavWriter:
    """One WAV file being written (see the module docstring). Writes are small and go
    straight to the file: this is test equipment, its files are seconds long."""

    def __init__(self, path: Path, *, raw: bool = False) -> None:
        self.path = path
        self.raw = raw  # headerless signed linear (``.sln``, ``.raw``)
        self.data_bytes = 0
        self.closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"" if raw else wav_header(0))

    @property
    def duration(self) -> float:
        """Seconds written so far."""
        return self.data_bytes / BYTES_PER_SECOND

    def write(self, data: bytes) -> None:
        """Append samples."""
        if self.closed or not data:
            return
        with self.path.open("ab") as f:
            f.write(data)
        self.data_bytes += len(data)

    def close(self) -> None:
        """Put the sizes in the header; later writes are ignored."""
        if self.closed:
            return
        self.closed = True
        if self.raw:
            return
        with self.path.open("r+b") as f:
            f.write(wav_header(self.data_bytes))
