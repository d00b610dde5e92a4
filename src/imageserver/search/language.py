"""The query language of `GET /search`: text in, a typed `Parsed` value out, no I/O.

Pure so it can be tested alone and reused by a client-side preview. The grammar:

    query   := clause*                    (clauses separated by white space)
    clause  := ["-" | "+"] [weight ":"] (filter | phrase | word)
    weight  := digits ["." digits]        (free text and similar: only)
    filter  := key ":" (phrase | word)
    phrase  := '"' any character but '"' '"'
    word    := non-space characters, no '"'

`-` excludes (a word, a phrase, a filter, an image); `+` is the default and may be
written for clarity (`+similar:12`). A key is one of KEYS; any other `name:` is an error
rather than free text, so a mistyped filter (`persn:Anna`) is never silently ignored.
Errors are `QuerySyntaxError`: a 422 whose message names the character offset (from 0)
and what was expected there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from imageserver.errors import Invalid
from imageserver.inputs import MAX_ID

MAX_CLAUSES = 32
MAX_WEIGHT = 100.0

TEXT_KEYS = ("person", "place", "country", "camera", "lens", "in", "tag", "file", "folder")
KEYS = (*TEXT_KEYS, "type", "after", "before", "year", "month", "is", "has", "similar")
CHOICES: dict[str, tuple[str, ...]] = {
    "type": ("photo", "video"),
    "is": ("favorite", "archived"),
    "has": ("text", "gps"),
}
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_WEIGHT = re.compile(r"(\d{1,3}(?:\.\d{1,3})?):")
_KEY = re.compile(r"([A-Za-z]+):")
_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


class QuerySyntaxError(Invalid):
    """A query that does not parse: where (character offset) and what was expected."""

    def __init__(self, position: int, expected: str, found: str | None = None) -> None:
        seen = "the end of the query" if not found else repr(found)
        super().__init__(f"q: position {position}: expected {expected}, found {seen}")
        self.position = position
        self.expected = expected


@dataclass(frozen=True)
class Term:
    """Free text: a word (ranked by CLIP when there is a model) or a quoted phrase
    (matched literally in OCR text, file and folder names)."""

    text: str
    raw: str
    start: int
    phrase: bool = False
    negative: bool = False
    weight: float = 1.0


@dataclass(frozen=True)
class Filter:
    """`key:value` as written, with the value parsed where the key has a type:
    `span` for dates (start inclusive, end exclusive; None: open), `number` for ids
    and months."""

    key: str
    value: str
    raw: str
    start: int
    negative: bool = False
    span: tuple[datetime | None, datetime | None] | None = None
    number: int | None = None


@dataclass(frozen=True)
class Similar:
    """`+similar:ID`: the stored embedding of item ID joins the query vector."""

    media_id: int
    raw: str
    start: int
    negative: bool = False
    weight: float = 1.0


@dataclass(frozen=True)
class Parsed:
    terms: tuple[Term, ...] = ()
    filters: tuple[Filter, ...] = ()
    similar: tuple[Similar, ...] = ()
    clauses: int = field(default=0, compare=False)

    def words(self) -> list[Term]:
        """Bare free-text words (CLIP material)."""
        return [t for t in self.terms if not t.phrase]

    def phrases(self) -> list[Term]:
        return [t for t in self.terms if t.phrase]

    def of(self, key: str) -> list[Filter]:
        return [f for f in self.filters if f.key == key]


# --- the scanner ---------------------------------------------------------------------------


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def found(self) -> str | None:
        """The next few characters, for an error message."""
        rest = self.text[self.pos :].split()
        return rest[0][:20] if rest and not self.text[self.pos].isspace() else None

    def value(self, what: str) -> tuple[str, bool]:
        """A phrase or a word at the cursor: (text, was quoted)."""
        start = self.pos
        if self.peek() == '"':
            end = self.text.find('"', start + 1)
            if end < 0:
                raise QuerySyntaxError(len(self.text), f"a closing '\"' for the quote at {start}")
            inner = self.text[start + 1 : end]
            if not inner.strip():
                raise QuerySyntaxError(start + 1, f"{what} inside the quotes", '""')
            self.pos = end + 1
            if not self.at_end() and not self.peek().isspace():
                raise QuerySyntaxError(self.pos, "a space after the closing quote", self.found())
            return " ".join(inner.split()), True
        while not self.at_end() and not self.peek().isspace():
            if self.peek() == '"':
                raise QuerySyntaxError(self.pos, "a space before a quoted phrase", self.found())
            self.pos += 1
        word = self.text[start : self.pos]
        if not word:
            raise QuerySyntaxError(start, what, self.found())
        return word, False


def parse(text: str) -> Parsed:
    """The clauses of `text`; QuerySyntaxError (a 422) names the first problem."""
    reader = _Reader(text)
    terms: list[Term] = []
    filters: list[Filter] = []
    similar: list[Similar] = []
    count = 0
    while True:
        reader.skip_space()
        if reader.at_end():
            break
        count += 1
        if count > MAX_CLAUSES:
            raise QuerySyntaxError(reader.pos, f"at most {MAX_CLAUSES} terms and filters")
        start = reader.pos
        negative = False
        if reader.peek() in "-+":
            negative = reader.peek() == "-"
            reader.pos += 1
            if reader.at_end() or reader.peek().isspace():
                raise QuerySyntaxError(reader.pos, f"a term or filter after {text[start]!r}")
        weight = 1.0
        matched = _WEIGHT.match(text, reader.pos)
        weight_at = reader.pos
        if matched:
            weight = float(matched.group(1))
            if not 0 < weight <= MAX_WEIGHT:
                raise QuerySyntaxError(weight_at, f"a weight above 0 and at most {MAX_WEIGHT:g}")
            reader.pos = matched.end()
        key_match = _KEY.match(text, reader.pos)
        if key_match:
            key = key_match.group(1).lower()
            if key not in KEYS:
                raise QuerySyntaxError(
                    reader.pos, "a filter (" + ", ".join(k + ":" for k in KEYS) + ")", key + ":"
                )
            if matched and key != "similar":
                raise QuerySyntaxError(weight_at, "a weight on free text or similar: only")
            reader.pos = key_match.end()
            value_at = reader.pos
            value, _quoted = reader.value(f"a value after {key}:")
            raw = text[start : reader.pos]
            if key == "similar":
                similar.append(Similar(_id(value, value_at), raw, start, negative, weight))
            else:
                filters.append(_filter(key, value, raw, start, value_at, negative))
            continue
        word_at = reader.pos
        word, quoted = reader.value("a word or a quoted phrase")
        if not quoted and word in ("-", "+"):
            raise QuerySyntaxError(word_at, "a term or filter", word)
        raw = text[start : reader.pos]
        terms.append(Term(word, raw, start, quoted, negative, weight))
    return Parsed(tuple(terms), tuple(filters), tuple(similar), count)


# --- values --------------------------------------------------------------------------------


def _id(value: str, at: int) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_ID:
        raise QuerySyntaxError(at, "an item id (a positive whole number)", value)
    return int(value)


def _filter(key: str, value: str, raw: str, start: int, at: int, negative: bool) -> Filter:
    if key in CHOICES:
        wanted = value.lower()
        if wanted == "favourite":
            wanted = "favorite"
        if wanted not in CHOICES[key]:
            raise QuerySyntaxError(at, f"{key}:" + " or ".join(CHOICES[key]), value)
        return Filter(key, wanted, raw, start, negative)
    if key in ("after", "before"):
        span = _date_span(value, at)
        bound = (span[0], None) if key == "after" else (None, span[0])
        return Filter(key, value, raw, start, negative, span=bound)
    if key == "year":
        if not re.fullmatch(r"\d{4}", value) or value == "0000":
            raise QuerySyntaxError(at, "a year (four digits, 2019)", value)
        return Filter(key, value, raw, start, negative, span=_date_span(value, at))
    if key == "month":
        return _month(value, raw, start, at, negative)
    number = int(value) if value.isdigit() and 1 <= int(value) <= MAX_ID else None
    return Filter(key, value, raw, start, negative, number=number)


def _month(value: str, raw: str, start: int, at: int, negative: bool) -> Filter:
    """month:7 or month:july (that month of every year), or month:2019-07 (one month)."""
    if re.fullmatch(r"\d{4}-\d{1,2}", value):
        return Filter("month", value, raw, start, negative, span=_date_span(value, at))
    lowered = value.lower()
    number: int | None = None
    if value.isdigit() and 1 <= int(value) <= 12:
        number = int(value)
    elif len(lowered) >= 3:
        found = [i + 1 for i, name in enumerate(MONTHS) if name.startswith(lowered)]
        number = found[0] if len(found) == 1 else None
    if number is None:
        raise QuerySyntaxError(at, "a month (1-12, a month's name, or 2019-07)", value)
    return Filter("month", value, raw, start, negative, number=number)


def _date_span(value: str, at: int) -> tuple[datetime, datetime]:
    """YYYY, YYYY-MM or YYYY-MM-DD as [start, end): the whole year, month or day."""
    matched = _DATE.match(value)
    expected = "a date (2019, 2019-07 or 2019-07-14)"
    if matched is None:
        raise QuerySyntaxError(at, expected, value)
    year, month, day = (int(g) if g else None for g in matched.groups())
    assert year is not None
    try:
        first = datetime(year, month or 1, day or 1)
        if day is not None:
            end = datetime.fromordinal(first.toordinal() + 1)
        elif month is not None:
            end = datetime(year + (month == 12), month % 12 + 1, 1)
        else:
            end = datetime(year + 1, 1, 1)
    except ValueError as exc:  # month 13, 31 February, year 0 or 9999 + 1
        raise QuerySyntaxError(at, expected, value) from exc
    return first, end
