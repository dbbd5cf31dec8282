"""JSON from outside is read strictly: NaN, Infinity, repeated keys, deep nesting are clear errors."""
from __future__ import annotations

import errno
import os

import pytest

from bodega import errors
from bodega.storage import strict_json


Refused = errors.InvalidSettings  # any caller's class: an existing one (a new subclass would join the error tree)


@pytest.mark.parametrize("text, why", [
    ('{"a": NaN}', "NaN is not a JSON number"),
    ('{"a": Infinity}', "Infinity is not a JSON number"),
    ("[-Infinity]", "-Infinity is not a JSON number"),
    ('{"a": 1, "a": 2}', "the key 'a' is given twice"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("[" * 65 + "]" * 65, "nested too deeply"),
    ('{"a":' * 70 + "1" + "}" * 70, "nested too deeply"),
    ("{", "not valid JSON: Expecting"),
    ("", "not valid JSON"),
    (b"\xff\xfe\x00", "not valid JSON"),
    ("1" * 5000, "not valid JSON"),
    ('"\\udcff"', "not Unicode text"),
    ('{"\\ud800": 1}', "not Unicode text"),
])
def test_what_is_not_strict_json_is_the_callers_error_in_one_line(text, why):
    with pytest.raises(Refused, match=why) as info:
        strict_json.loads(text, "the input", Refused)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_plain_json_is_read():
    assert strict_json.loads('{"a": [1, 2.5, "é", null, true], "b": {}}', "x", Refused) == {
        "a": [1, 2.5, "é", None, True], "b": {}}
    assert strict_json.loads("[" * 64 + "]" * 64, "x", Refused) is not None


def test_a_large_input_is_refused_before_it_is_parsed():
    with pytest.raises(Refused, match="larger than 10 bytes"):
        strict_json.loads("[" + "1," * 10 + "1]", "x", Refused, max_bytes=10)


@pytest.mark.parametrize("value", [float("nan"), [float("inf")], {"a": {"b": float("-inf")}}])
def test_values_from_python_with_non_finite_numbers_are_refused(value):
    with pytest.raises(Refused, match="not a JSON number"):
        strict_json.check_plain(value, "settings", Refused)


def test_a_structure_that_contains_itself_is_refused_not_walked_for_ever():
    loop: list = []
    loop.append(loop)
    with pytest.raises(Refused, match="nested too deeply"):
        strict_json.check_plain(loop, "settings", Refused)


def test_read_file_reads_a_bounded_amount_from_a_device():
    with pytest.raises(Refused, match="larger than"):
        strict_json.read_file("/dev/zero", "settings file", Refused)


def test_read_file_of_a_path_with_a_nul_is_the_callers_error():
    with pytest.raises(Refused, match="cannot read settings file .*null"):
        strict_json.read_file("a\0b", "settings file", Refused)


@pytest.mark.parametrize("path, cls, code", [("/nonexistent/s.json", errors.PathNotFound, errno.ENOENT),
                                             ("/", errors.IsADirectory, errno.EISDIR)])
def test_read_file_of_something_unreadable_is_the_error_of_its_errno(path, cls, code):
    """Through errors.os_error, as every OSError: errno kept, operation and path named."""
    with pytest.raises(cls) as info:
        strict_json.read_file(path, "settings file", Refused)
    assert info.value.errno == code and info.value.filename == path
    assert str(info.value) == f"read settings file: {path}: {os.strerror(code)}"
