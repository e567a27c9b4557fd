from __future__ import annotations

import json

import pytest
import zarr
import zarrlake


def _group(repo, path: str, attrs: dict) -> None:
    zarr.open_group(repo.store, path=path, mode="a").attrs.update(attrs)


@pytest.fixture
def tagged(repo):
    zarr.open_group(repo.store, mode="a")
    _group(repo, "foo", {})
    _group(repo, "foo/bar", {})
    _group(repo, "foo/bar/baz", {"flags": [{"spec": ["a", "b", "c"]}], "band": "c", "number": 7})
    arr = zarr.create_array(repo.store, name="foo/bar/baz/spam", shape=(4,), dtype="i2", chunks=(2,))
    arr.attrs.update({"flags": [{"spec": ["a", "b", "x"]}], "band": "q", "number": 20, "eo:val": 12})
    _group(repo, "other", {"someNaN": float("nan"), "created:at:time": "2022-04-01", "foo": 10, "flags": 5})
    _group(repo, "plain", {"unrelated": True})
    return repo


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("flags[0].spec[0] == 'a'", ["foo/bar/baz", "foo/bar/baz/spam"]),
        ("flags[0].spec[0:2] == ['a', 'b']", ["foo/bar/baz", "foo/bar/baz/spam"]),
        # null == null: documents with neither key match too (a documented nuance), and so
        # do nodes without any attributes (evaluated as {}).
        ("flags[0].spec[2] == band", ["foo", "foo/bar", "foo/bar/baz", "other", "plain"]),
        ("contains(keys(@), 'flags') && contains(keys(@), 'band') && flags[0].spec[2] == band", ["foo/bar/baz"]),
        ("someNaN == 'NaN'", ["other"]),
        ("number >= `3` && number <= `15`", ["foo/bar/baz"]),
        ('"eo:val" == `12`', ["foo/bar/baz/spam"]),
        ('"created:at:time" <= `"2022-05-01"`', ["other"]),
        ("(!flags == `5` || flags == `10`) && foo == `10`", []),
        ("flags == `5` && foo == `10`", ["other"]),
        # Two missing keys compare equal (null == null) on every node.
        ("nope == alsonope", ["foo", "foo/bar", "foo/bar/baz", "foo/bar/baz/spam", "other", "plain"]),
        ("contains(keys(@), 'nope') && contains(keys(@), 'alsonope') && nope == alsonope", []),
    ],
)
def test_filter_metadata_examples(tagged, query, expected):
    assert tagged.filter_metadata(query) == expected


def test_nan_only_matches_as_string(tagged):
    assert tagged.filter_metadata("someNaN == NaN") == ["foo", "foo/bar", "foo/bar/baz", "foo/bar/baz/spam", "plain"]


def test_filter_errors(tagged):
    with pytest.raises(ValueError, match="Parse error"):
        tagged.filter_metadata("eo:val == 12")
    with pytest.raises(ValueError, match="invalid token"):
        tagged.filter_metadata("&&")
    with pytest.raises(ValueError):
        tagged.filter_metadata("title == 10")


def test_filter_reads_v2_attributes(repo):
    g = zarr.open_group(repo.store, mode="a", zarr_format=2)
    g.create_group("legacy").attrs["kind"] = "v2"
    assert repo.filter_metadata("kind == 'v2'") == ["legacy"]


def test_tree(tagged):
    from rich.console import Console
    from rich.tree import Tree

    t = tagged.tree()
    assert isinstance(t, zarrlake.TreeView) and isinstance(t.__rich__(), Tree)
    console = Console(record=True, width=120)
    console.print(t)
    text = console.export_text()
    assert "spam (4,) int16" in text and "baz" in text and "plain" in text
    console = Console(record=True, width=120)
    console.print(tagged.tree(filter="number >= `10`"))
    text = console.export_text()
    assert "spam" in text and "plain" not in text and "other" not in text
    console = Console(record=True, width=120)
    console.print(tagged.tree(depth=1))
    text = console.export_text()
    assert "foo" in text and "bar" not in text
    console = Console(record=True, width=120)
    console.print(tagged.tree(prefix="foo/bar"))
    text = console.export_text()
    assert "baz" in text and "other" not in text


def test_metadata_documents_include_session_changes(tagged):
    docs = dict(tagged._core.session_native.metadata_documents())
    assert json.loads(docs["foo/bar/baz/zarr.json"])["attributes"]["band"] == "c"
