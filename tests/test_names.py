"""Object names and their modifiers."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from omega_jupyter.exceptions import InvalidNameError
from omega_jupyter.names import ObjectRef, parse_ref, validate_bucket, validate_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sales", ObjectRef("sales")),
        ("folder/sales 2024", ObjectRef("folder/sales 2024")),
        ("sales[a,b]", ObjectRef("sales", ("a", "b"))),
        ("sales[ a , b ]", ObjectRef("sales", ("a", "b"))),
        ("sales[^c]", ObjectRef("sales", ("c",), exclude=True)),
        ("sales[^c,d]", ObjectRef("sales", ("c", "d"), exclude=True)),
        ("model@3", ObjectRef("model", version=3)),
        ("model@prod", ObjectRef("model", tag="prod")),
        ("model^", ObjectRef("model", previous=True)),
        ("sales[a]@2", ObjectRef("sales", ("a",), version=2)),
        ("sales[a]^", ObjectRef("sales", ("a",), previous=True)),
        ("x'; DROP TABLE om_objects; --", ObjectRef("x'; DROP TABLE om_objects; --")),
        ("ünïcødé", ObjectRef("ünïcødé")),
    ],
)
def test_parse_ref(text, expected):
    assert parse_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "a[", "a]", "a[]", "a[^]", "a@", "a@0", "a@1^", "a^^", "[a]", "@3", "a@b@c",
     " a", "a ", "a\tb", "a\x00", "/a", "a/", "a//b", "x" * 256, None, 3],
)  # fmt: skip
def test_malformed_refs(text):
    with pytest.raises(InvalidNameError):
        parse_ref(text)


def test_validate_name_explains_reserved_characters():
    with pytest.raises(InvalidNameError, match="reserved for modifiers"):
        validate_name("a@b")
    assert validate_name("a;b'c\"d") == "a;b'c\"d"


@pytest.mark.parametrize("bucket", ["default", "team-a", "Team_B", "0", "a" * 63])
def test_valid_buckets(bucket):
    assert validate_bucket(bucket) == bucket


@pytest.mark.parametrize(
    "bucket", ["", "-a", "_a", "a b", "a/b", "a.b", "a" * 64, "ä", "a;drop", None, 1]
)
def test_invalid_buckets(bucket):
    with pytest.raises(InvalidNameError, match="bucket"):
        validate_bucket(bucket)


@pytest.mark.parametrize(
    "name",
    [
        "evil\u202etxt.exe",  # right-to-left override
        "a\u202ab",
        "a\u2066b\u2069",
        "a\u200fb",
        "zero\u200bwidth",
        "line\u2028sep",
        "bell\x07",
        "new\nline",
    ],
)
def test_names_with_control_or_bidi_characters_are_refused(name):
    with pytest.raises(InvalidNameError, match="control or invisible"):
        validate_name(name)
    with pytest.raises(InvalidNameError):
        parse_ref(name)


@pytest.mark.parametrize("name", ["sales*", "sales?", "a*b"])
def test_glob_characters_are_reserved_for_patterns(name):
    with pytest.raises(InvalidNameError, match="reserved for patterns"):
        validate_name(name)


def test_refused_names_store_nothing(om):
    for name in ["evil\u202etxt", "star*"]:
        with pytest.raises(InvalidNameError):
            om.datasets.put(pd.DataFrame({"a": [1]}), name)
        with pytest.raises(InvalidNameError):
            om.datasets.put({"a": 1}, name)
        with pytest.raises(InvalidNameError):
            om.datasets.read_csv(io.BytesIO(b"a\n1\n"), name)
    assert om.datasets.list() == []
