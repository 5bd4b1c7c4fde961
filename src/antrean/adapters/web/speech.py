"""What a waiting-room board says when it calls a number, and the audio for boards whose
browser has no Indonesian voice: rendered by Debian's `espeak-ng`, once per text, then served
from a cache directory.

A number is read character by character ("A nol nol tujuh"), as people read a ticket; other
numbers (a room's) are read as numbers ("ruang dua")."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from pathlib import Path

from antrean.domain.fields import is_digits

DIGITS = {
    "id": ["nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan"],
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
}
PHRASES = {
    "id": ("Nomor antrean {number}, silakan ke {clinic}{counter}.", ", {counter}"),
    "en": ("Queue number {number}, please go to {clinic}{counter}.", ", {counter}"),
}
VOICES = {"id": "id", "en": "en"}
MAX_TEXT = 300
RENDER_SECONDS = 10


def _below_hundred(n: int, lang: str) -> str:
    words = DIGITS[lang]
    if n < 10:
        return words[n]
    if lang == "id":
        if n == 10:
            return "sepuluh"
        if n == 11:
            return "sebelas"
        if n < 20:
            return f"{words[n - 10]} belas"
        tens, ones = divmod(n, 10)
        return f"{words[tens]} puluh" + (f" {words[ones]}" if ones else "")
    teens = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
             "seventeen", "eighteen", "nineteen"]  # fmt: skip
    tens_words = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
                  "ninety"]  # fmt: skip
    if n < 20:
        return teens[n - 10]
    tens, ones = divmod(n, 10)
    return tens_words[tens] + (f"-{words[ones]}" if ones else "")


def number_words(n: int, lang: str) -> str:
    """0 to 999 in words; larger numbers digit by digit."""
    if n >= 1000:
        return " ".join(DIGITS[lang][int(d)] for d in str(n))
    hundreds, rest = divmod(n, 100)
    if not hundreds:
        return _below_hundred(rest, lang)
    if lang == "id":
        head = "seratus" if hundreds == 1 else f"{DIGITS['id'][hundreds]} ratus"
    else:
        head = f"{DIGITS['en'][hundreds]} hundred"
    return head + (f" {_below_hundred(rest, lang)}" if rest else "")


def spell_label(label: str, lang: str) -> str:
    """ "A-007" as "A nol nol tujuh": letters as letters, each digit as a word."""
    parts = []
    for ch in label:
        if is_digits(ch):
            parts.append(DIGITS[lang][int(ch)])
        elif ch.isalpha():
            parts.append(ch.upper())
    return " ".join(parts)


def spoken_call(label: str, clinic: str, counter: str | None, lang: str) -> str:
    lang = lang if lang in PHRASES else "id"
    sentence, counter_part = PHRASES[lang]
    room = ""
    if counter:
        room = counter_part.format(
            counter=re.sub(r"\d+", lambda m: number_words(int(m.group()), lang), counter.lower())
        )
    return sentence.format(number=spell_label(label, lang), clinic=clinic, counter=room)


class Voice:
    """Audio files of spoken calls, made by espeak-ng when it is installed."""

    def __init__(self, cache: Path) -> None:
        self.program = shutil.which("espeak-ng")
        self.cache = cache

    @property
    def available(self) -> bool:
        return self.program is not None

    async def wav(self, text: str, lang: str) -> bytes | None:
        """The spoken text as a WAV file (cached per text and language); None when it cannot
        be made here."""
        if self.program is None or not text or len(text) > MAX_TEXT:
            return None
        key = hashlib.sha256(f"{lang}\n{text}".encode()).hexdigest()[:32]
        path = self.cache / f"{key}.wav"
        if path.exists():
            return path.read_bytes()
        self.cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        process = await asyncio.create_subprocess_exec(
            self.program,
            "-v",
            VOICES.get(lang, "id"),
            "-s",
            "140",
            "-w",
            str(partial),
            "--",
            text,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.wait_for(process.wait(), RENDER_SECONDS)
        except TimeoutError:
            process.kill()
            return None
        if process.returncode != 0 or not partial.exists():
            return None
        partial.replace(path)
        return path.read_bytes()
