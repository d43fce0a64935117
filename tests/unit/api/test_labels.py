"""Label selectors parse, print and match as Kubernetes' labels package does."""

import pytest

from kybernetes.api.errors import BadRequest
from kybernetes.api.labels import from_label_selector, parse_selector, selector_from_map


@pytest.mark.parametrize(("text", "labels", "expected"), [
    ("a=b", {"a": "b"}, True),
    ("a==b", {"a": "b"}, True),
    ("a=b", {"a": "c"}, False),
    ("a!=b", {}, True),
    ("a!=b", {"a": "b"}, False),
    ("a in (x,y)", {"a": "y"}, True),
    ("a in (x,y)", {"a": "z"}, False),
    ("a notin (x)", {}, True),
    ("a notin (x)", {"a": "x"}, False),
    ("a", {"a": ""}, True),
    ("a", {}, False),
    ("!a", {}, True),
    ("!a", {"a": "1"}, False),
    ("a>5", {"a": "6"}, True),
    ("a<5", {"a": "6"}, False),
    ("a>5", {"a": "x"}, False),
    ("a=", {"a": ""}, True),
    ("a=b, c in ( d , e ),!f", {"a": "b", "c": "e"}, True),
    ("", {"anything": "x"}, True),
])
def test_selector_matches(text, labels, expected):
    assert parse_selector(text).matches(labels) is expected


def test_selector_prints_sorted_canonical_form():
    sel = parse_selector("g,!h,f notin (z),e in (y,x),c!=d,a=b")
    assert str(sel) == "a=b,c!=d,e in (x,y),f notin (z),g,!h"


@pytest.mark.parametrize(("text", "message"), [
    ("a=b,", "found '', expected: identifier after ','"),
    ("a in x", "unable to parse requirement: found 'x' expected: '('"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("=b", "found '=', expected: !, identifier, or 'end of string'"),
    ("a > x", "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an "
              "integer"),
])
def test_bad_selectors_are_bad_requests(text, message):
    with pytest.raises(BadRequest) as info:
        parse_selector(text)
    assert info.value.message == message
    assert info.value.code == 400


def test_bad_key_reports_kubernetes_wording():
    with pytest.raises(BadRequest) as info:
        parse_selector("a@b=c")
    assert info.value.message.startswith(
        'unable to parse requirement: <nil>: Invalid value: "a@b": name part must consist of')


def test_label_selector_object():
    sel = from_label_selector({"matchLabels": {"app": "web"},
                               "matchExpressions": [{"key": "tier", "operator": "In",
                                                     "values": ["a", "b"]}]})
    assert sel.matches({"app": "web", "tier": "b"})
    assert not sel.matches({"app": "web", "tier": "c"})
    assert str(sel) == "app=web,tier in (a,b)"
    assert from_label_selector({}).empty
    assert not from_label_selector(None).matches({})
    with pytest.raises(BadRequest):
        from_label_selector({"matchExpressions": [{"key": "a", "operator": "Is"}]})


def test_selector_from_map():
    sel = selector_from_map({"b": "2", "a": "1"})
    assert str(sel) == "a=1,b=2"
    assert sel.matches({"a": "1", "b": "2", "c": "3"})
    assert not sel.matches({"a": "1"})
    assert selector_from_map({}).empty
