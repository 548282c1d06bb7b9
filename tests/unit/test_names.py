"""Names from services become safe, short enough and unique (vfs/names.py)."""

from __future__ import annotations

import random

from vfs.names import NAME_MAX, safe_name, unique_names


def test_unsafe_names_are_made_safe():
    assert safe_name("a/b") == "a\u2215b"
    assert safe_name("a\x00b") == "ab"
    assert safe_name(".") == "_."
    assert safe_name("..") == "_.."
    assert safe_name("") == "_"
    assert safe_name("  spaced  ") == "spaced"
    assert safe_name("tab\there") == "tab_here"
    # NFC: the same name typed two ways is one name.
    assert safe_name("e\u0301.mkv") == safe_name("\u00e9.mkv") == "\u00e9.mkv"


def test_long_names_fit_keep_their_extension_and_stay_distinct():
    first = safe_name("x" * 300 + "1.mkv")
    second = safe_name("x" * 300 + "2.mkv")
    wide = safe_name("\u00e9" * 200 + ".srt")  # two bytes per character
    for name in (first, second, wide):
        assert len(name.encode()) <= NAME_MAX
    assert first.endswith(".mkv") and wide.endswith(".srt")
    assert first != second
    wide.encode().decode()  # never cut inside a character


def test_clashes_get_numbered_by_stable_key_whatever_the_listing_order():
    items = [
        ("k3", "Movie.mkv"),
        ("k1", "Movie.mkv"),
        ("k2", "movie/x"),
        ("k4", "Movie (2).mkv"),
        ("k5", "Movie.mkv"),
    ]
    expected = unique_names(items)
    for _ in range(10):
        random.shuffle(items)
        assert unique_names(items) == expected
    # The name that is unique on its own keeps it; clashes are numbered by key order.
    assert expected["k4"] == "Movie (2).mkv"
    assert expected["k1"] == "Movie.mkv"
    assert expected["k3"] == "Movie (3).mkv" and expected["k5"] == "Movie (4).mkv"
    assert len(set(expected.values())) == len(expected)


def test_names_already_taken_are_avoided():
    assert unique_names([("a", "f.txt")], taken={"f.txt"}) == {"a": "f (2).txt"}
    assert unique_names([("a", "noext")], taken={"noext"}) == {"a": "noext (2)"}


def test_numbered_long_names_still_fit():
    names = unique_names([(str(i), "y" * 300 + ".mkv") for i in range(3)])
    assert len(set(names.values())) == 3
    assert all(len(n.encode()) <= NAME_MAX and n.endswith(".mkv") for n in names.values())


def test_names_shown_before_stay_while_their_entries_exist():
    shown = unique_names([("a", "x.mkv", 1), ("b", "x.mkv", 2)])
    assert shown == {"a": "x.mkv", "b": "x (2).mkv"}
    # (a) the first one goes: the second keeps its number
    assert unique_names([("b", "x.mkv", 2)], previous=shown) == {"b": "x (2).mkv"}
    # (b) a newcomer literally named like a held name is numbered itself
    after = unique_names([("a", "x.mkv", 1), ("b", "x.mkv", 2), ("c", "x (2).mkv", 0)], previous=shown)
    assert after == {"a": "x.mkv", "b": "x (2).mkv", "c": "x (2) (2).mkv"}
    # a renamed entry does not keep a name its new raw name does not give
    assert unique_names([("b", "y.mkv", 2)], previous=shown) == {"b": "y.mkv"}
    # truncated long names keep their numbers too
    long = "y" * 300 + ".mkv"
    first = unique_names([("1", long), ("2", long)])
    assert unique_names([("2", long)], previous=first) == {"2": first["2"]}
    assert first["1"] != first["2"]
