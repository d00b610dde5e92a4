"""The query language parser: every clause kind, quoting, excludes, weights, and errors
that name the character offset and what was expected there."""

from __future__ import annotations

from datetime import datetime

import pytest

from imageserver.search.language import (
    MAX_CLAUSES,
    Filter,
    QuerySyntaxError,
    Similar,
    Term,
    parse,
)


def test_words_phrases_weights_and_excludes() -> None:
    parsed = parse('  dog 2:"golden retriever"  -puppy -"for sale" 0.5:beach +sun ')
    assert parsed.terms == (
        Term("dog", "dog", 2),
        Term("golden retriever", '2:"golden retriever"', 6, phrase=True, weight=2.0),
        Term("puppy", "-puppy", 28, negative=True),
        Term("for sale", '-"for sale"', 35, phrase=True, negative=True),
        Term("beach", "0.5:beach", 47, weight=0.5),
        Term("sun", "+sun", 57),
    )
    assert [t.text for t in parsed.words()] == ["dog", "puppy", "beach", "sun"]
    assert [t.text for t in parsed.phrases()] == ["golden retriever", "for sale"]
    assert parsed.filters == () and parsed.similar == ()


def test_phrase_white_space_is_collapsed() -> None:
    assert parse('"  exit \t only  "').terms[0].text == "exit only"


def test_text_filters_keep_their_value_and_an_id_when_numeric() -> None:
    parsed = parse(
        'person:"Anna Maria" place:Lyon country:FR camera:pixel lens:"50mm f/1.8" '
        "in:Holidays in:12 file:IMG_*.jpg folder:2019/trip* -person:Bob"
    )
    got = [(f.key, f.value, f.negative, f.number) for f in parsed.filters]
    assert got == [
        ("person", "Anna Maria", False, None),
        ("place", "Lyon", False, None),
        ("country", "FR", False, None),
        ("camera", "pixel", False, None),
        ("lens", "50mm f/1.8", False, None),
        ("in", "Holidays", False, None),
        ("in", "12", False, 12),
        ("file", "IMG_*.jpg", False, None),
        ("folder", "2019/trip*", False, None),
        ("person", "Bob", True, None),
    ]
    assert parsed.filters[0].raw == 'person:"Anna Maria"' and parsed.filters[0].start == 0
    assert [f.value for f in parsed.of("in")] == ["Holidays", "12"]


def test_choices_are_case_insensitive_and_normalised() -> None:
    parsed = parse("type:Video is:favourite -is:archived has:TEXT has:gps Person:x")
    assert [(f.key, f.value, f.negative) for f in parsed.filters] == [
        ("type", "video", False),
        ("is", "favorite", False),
        ("is", "archived", True),
        ("has", "text", False),
        ("has", "gps", False),
        ("person", "x", False),
    ]


def test_dates_are_half_open_spans() -> None:
    parsed = parse("after:2019-06 before:2020-02-29 year:2018 month:2017-12 month:jul month:3")
    after, before, year, month_of_year, july, march = parsed.filters
    assert after.span == (datetime(2019, 6, 1), None)
    assert before.span == (None, datetime(2020, 2, 29))
    assert year.span == (datetime(2018, 1, 1), datetime(2019, 1, 1))
    assert month_of_year.span == (datetime(2017, 12, 1), datetime(2018, 1, 1))
    assert (july.number, july.span, march.number) == (7, None, 3)
    assert parse("after:2019-12-31").filters[0].span == (datetime(2019, 12, 31), None)


def test_similar_takes_an_id_a_sign_and_a_weight() -> None:
    parsed = parse("+similar:12 -2:similar:7 similar:3")
    assert parsed.similar == (
        Similar(12, "+similar:12", 0),
        Similar(7, "-2:similar:7", 12, negative=True, weight=2.0),
        Similar(3, "similar:3", 25),
    )


def test_empty_query_parses_to_nothing() -> None:
    assert parse("   ") == parse("")
    assert parse("").clauses == 0


@pytest.mark.parametrize(
    ("query", "position", "expected"),
    [
        ('dog "golden retriever', 21, "a closing '\"' for the quote at 4"),
        ("persn:Anna", 0, "a filter (person:"),
        ("type:picture", 5, "type:photo or video"),
        ("is:", 3, "a value after is:"),
        ("person: Anna", 7, "a value after person:"),
        ("after:2019-13", 6, "a date"),
        ("before:yesterday", 7, "a date"),
        ("year:19", 5, "a year"),
        ("month:13", 6, "a month"),
        ("month:ju", 6, "a month"),  # june or july
        ("similar:abc", 8, "an item id"),
        ("similar:0", 8, "an item id"),
        ("2:person:Anna", 0, "a weight on free text or similar: only"),
        ("0:dog", 0, "a weight above 0"),
        ("dog - cat", 5, "a term or filter after '-'"),
        ('ab"cd"', 2, "a space before a quoted phrase"),
        ('"ab"cd', 4, "a space after the closing quote"),
        ('x ""', 3, "a word or a quoted phrase inside the quotes"),
        ('person:""', 8, "a value after person: inside the quotes"),
        ("has:faces", 4, "has:text or gps"),
        ("after:2019-02-30", 6, "a date"),
    ],
)
def test_syntax_errors_name_the_position_and_what_was_expected(
    query: str, position: int, expected: str
) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query)
    assert caught.value.position == position
    assert expected in caught.value.expected
    assert caught.value.message.startswith(f"q: position {position}: expected ")


def test_error_message_says_what_was_found() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse("dog type:pic cat")
    assert caught.value.message == "q: position 9: expected type:photo or video, found 'pic'"


def test_too_many_clauses() -> None:
    parse(" ".join(["w"] * MAX_CLAUSES))
    with pytest.raises(QuerySyntaxError) as caught:
        parse(" ".join(["w"] * (MAX_CLAUSES + 1)))
    assert caught.value.position == 2 * MAX_CLAUSES


def test_filter_dataclass_is_hashable_and_comparable() -> None:
    a, b = parse("person:Anna").filters[0], parse("person:Anna").filters[0]
    assert a == b and isinstance(hash(a), int) and isinstance(a, Filter)
