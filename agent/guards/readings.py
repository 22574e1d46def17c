"""Reading a turn the way an attacker hopes the model will: every disguise undone, each result a `Reading`.

Look-alike letters mapped, leetspeak and spaced letters undone, base64/hex/url/HTML/rot13 chunks decoded,
hidden markup opened, invisible characters and tag letters taken out. The rules and the classifier both
look at every reading.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass

_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                        "\u2066-\u2069\u3164\ufeff\uffa0]")
_TAG_CHARS = re.compile("[\U000e0000-\U000e007f]+")  # invisible "tag" letters that smuggle ASCII text
_WIDE_FORMS = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\U0001d400-\U0001d7ff]")  # fullwidth, math-styled
_HOMOGLYPHS = str.maketrans({
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l",
    "ɡ": "g", "ı": "i", "ɑ": "a", "ο": "o", "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ѵ": "v", "ԍ": "g",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I",
    "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    **dict(zip("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡʏᴢ", "abcdefghijklmnopqrstuvwyz")),  # small capitals
})
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"})
_LEET_TOKEN = re.compile(r"[\w@$]+")
_LONGEST_LEET_WORD = 15  # a longer run of letters and digits is an encoded blob, not a word
_NUMERIC = re.compile(r"\d+(?:s|th|st|nd|rd|k|m|h|p|x|min|mins|d)?|\d+[.,]\d+", re.IGNORECASE)
_SPACED = re.compile(r"(?<!\w)(?:[^\W_][ .\-_*·]{1,3}){3,}[^\W_](?!\w)")
_BASE64 = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{12,}={0,2}")
_HEX = re.compile(r"(?:(?:0x|\\x)?[0-9a-fA-F]{2}[\s:,]?){6,}")
_ESCAPES = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")
_HIDDEN = re.compile(
    r"<!--(?P<comment>.{0,2000}?)(?:-->|$)"
    r"|\[(?://|comment)\]:\s*(?:#|<>)\s*\((?P<md>.{0,2000}?)\)"
    r"|<(?P<tag>\w+)[^>]*(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|opacity\s*:\s*0)[^>]*>"
    r"(?P<styled>.{0,2000}?)(?:</(?P=tag)>|$)"
    r"|!?\[[^\]]*\]\([^)\s]*\s+\"(?P<link>[^\"]*)\"\)",
    re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Reading:
    text: str
    tricks: tuple[str, ...] = ()
    hidden: bool = False  # came from markup the person would not see


def clean(text: str) -> tuple[str, tuple[str, ...], str]:
    """NFKC, invisible and control characters out. Returns (text, tricks seen, text smuggled in tag chars)."""
    tricks = []
    if _WIDE_FORMS.search(text):
        tricks.append("fullwidth")
    smuggled = "".join(chr(ord(ch) - 0xE0000) for run in _TAG_CHARS.findall(text) for ch in run)
    if smuggled.strip():
        tricks.append("unicode_tags")
    text = _TAG_CHARS.sub("", unicodedata.normalize("NFKC", text))
    if _INVISIBLE.search(text):
        tricks.append("invisible_chars")
        text = _INVISIBLE.sub("", text)
    text = "".join(ch for ch in text if not is_junk(ch))
    return text, tuple(tricks), smuggled


def is_junk(ch: str) -> bool:
    if ch in "\n\t\r":
        return False
    return ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn")


def _unmask(text: str) -> tuple[str, tuple[str, ...]]:
    """Undo look-alike letters, leetspeak and spaced-out letters, keeping case (titles are read from it)."""
    tricks = []
    mapped = text.translate(_HOMOGLYPHS)
    if mapped != text:
        tricks.append("homoglyphs")
    leet = _LEET_TOKEN.sub(_unleet, mapped)
    if leet != mapped:
        tricks.append("leetspeak")
    joined = _SPACED.sub(lambda m: " ".join(re.sub(r"[ .\-_*·]", "", w) for w in re.split(r"\s{2,}", m.group())),
                         leet)
    if joined != leet:
        tricks.append("spaced_letters")
    return joined, tuple(tricks)


def _unleet(match: re.Match) -> str:
    token = match.group()
    if (len(token) > _LONGEST_LEET_WORD or not re.search(r"[^\W\d_]", token) or _NUMERIC.fullmatch(token)
            or not re.search(r"[\d@$]", token)):
        return token
    return token.translate(_LEET)


def _unescape(text: str) -> str:
    return _ESCAPES.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


_WHOLE_TURN = (  # (how, applies, decode): encodings read over the whole turn rather than chunk by chunk
    ("url_encoding", re.compile(r"%[0-9a-fA-F]{2}").search, urllib.parse.unquote),
    ("html_entities", re.compile(r"&#?\w+;").search, html.unescape),
    ("escapes", _ESCAPES.search, _unescape),
)


def decoded_in_place(text: str) -> str:
    """The turn with each encoded chunk replaced by what it decodes to, so that "decode this: <hex>" reads as
    the request it carries (whether that is an attack or a harmless one) rather than as hex."""
    def chunk(match: re.Match, decode) -> str:
        encoded = match.group().rstrip(" \t\n:,")  # the hex pattern takes the separator after a chunk
        return (_printable(decode(encoded)) or encoded) + match.group()[len(encoded):]

    text = _BASE64.sub(lambda m: chunk(m, _from_base64), text)
    text = _HEX.sub(lambda m: chunk(m, _from_hex), text)
    for _, applies, decode in _WHOLE_TURN:
        if applies(text):
            text = decode(text)
    return text


def _decodings(text: str, outer: bool) -> list[tuple[str, str]]:
    """(how, decoded text) for every encoded chunk; rot13 and reversal only for the turn itself."""
    found = []
    for chunk in _BASE64.findall(text):
        if decoded := _printable(_from_base64(chunk)):
            found.append(("base64", decoded))
    for chunk in _HEX.findall(text):
        if decoded := _printable(_from_hex(chunk)):
            found.append(("hex", decoded))
    for how, applies, decode in _WHOLE_TURN:
        if applies(text) and (decoded := decode(text)) != text:
            found.append((how, decoded))
    if outer:
        found.append(("rot13", codecs.encode(text, "rot13")))
        found.append(("reversed", text[::-1]))
    return found


def _from_base64(chunk: str) -> bytes | None:
    padded = chunk + "=" * (-len(chunk) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_" if re.search(r"[-_]", chunk) else None, validate=True)
    except (binascii.Error, ValueError):
        return None


def _from_hex(chunk: str) -> bytes | None:
    digits = re.sub(r"0x|\\x|[\s:,]", "", chunk)
    return bytes.fromhex(digits) if len(digits) % 2 == 0 else None


def _printable(raw: bytes | None) -> str | None:
    """The decoded text when it reads as text (not the noise an ordinary word decodes to)."""
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    readable = sum(ch.isprintable() or ch.isspace() for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    return text if readable >= 0.95 * len(text) and letters >= 4 else None


def _hidden_parts(text: str) -> list[str]:
    return [next(g for g in (m.group("comment"), m.group("md"), m.group("styled"), m.group("link")) if g is not None)
            for m in _HIDDEN.finditer(text)]


def readings(text: str, smuggled: str, tricks: tuple[str, ...]) -> list[Reading]:
    readings = [Reading(text, tricks)]
    readings += [Reading(part, (*tricks, "hidden_markup"), hidden=True) for part in _hidden_parts(text)]
    if smuggled.strip():
        readings.append(Reading(smuggled, tricks, hidden=True))
    for how, decoded in _decodings(text, outer=True):
        readings.append(Reading(decoded, (*tricks, how)))
        readings += [Reading(inner, (*tricks, how, inner_how)) for inner_how, inner in _decodings(decoded, False)]
    unmasked = []
    for reading in readings:
        plain, undone = _unmask(reading.text)
        if undone:
            unmasked.append(Reading(plain, (*reading.tricks, *undone), reading.hidden))
    return _dedupe(readings + unmasked)


def _dedupe(readings: list[Reading]) -> list[Reading]:
    seen, kept = set(), []
    for reading in readings:
        if reading.text not in seen:
            seen.add(reading.text)
            kept.append(reading)
    return kept


def fold(text: str) -> str:
    """Accents off Latin letters (other scripts keep theirs) and straight apostrophes, for rule matching."""
    kept, base_is_latin = [], False
    for ch in unicodedata.normalize("NFKD", text.replace("’", "'")):
        if not unicodedata.combining(ch):
            base_is_latin = ch.isascii()
        elif base_is_latin:
            continue  # every mark on a Latin letter, stacked ones too (Vietnamese "dẫn" is "dan")
        kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept))
