"""kube-openapi's string format registry (strfmt.Default): which strings each format accepts.

A format the registry does not know is ignored, as in Kubernetes. Numeric formats
(int32, int64, float, double) are not checked by kube-openapi either: a number
only has to be of the schema's type.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import re
import urllib.parse
from collections.abc import Callable

_HOSTNAME = re.compile(r"^([a-zA-Z0-9]((-?[a-zA-Z0-9]{0,62})?)|"
                       r"([a-zA-Z0-9](([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.)){1,}([a-zA-Z]){2,63})$")
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_UUID_VERSION = {
    version: re.compile(rf"^[0-9a-f]{{8}}-?[0-9a-f]{{4}}-?{version}[0-9a-f]{{3}}-?"
                        r"[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", re.I)
    for version in "345"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")
_DURATION = re.compile(
    r"^(([+-]?\d+(\.\d*)?|[+-]?\.\d+)\s*(ns|us|µs|ms|s|m|h|d|w|"
    r"nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?)\s*)+$")
_MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$|^([0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}$")
_HEXCOLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_RGBCOLOR = re.compile(r"^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$")
_BSON_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
_ISBN10 = re.compile(r"^(?:[0-9]{9}X|[0-9]{10})$")
_ISBN13 = re.compile(r"^(?:[0-9]{13})$")
_SSN = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")
_CREDITCARD = re.compile(r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])"
                         r"[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|"
                         r"(?:2131|1800|35\d{3})\d{11})$")


def _parses(parser: Callable[[str], object]) -> Callable[[str], bool]:
    def accepts(text: str) -> bool:
        try:
            parser(text)
        except (ValueError, binascii.Error):
            return False
        return True
    return accepts


def _is_uri(text: str) -> bool:
    parsed = urllib.parse.urlparse(text)
    return bool(parsed.scheme) and not any(c.isspace() for c in text)


def _is_ipv4(text: str) -> bool:
    return "." in text and _parses(ipaddress.IPv4Address)(text)


def _is_ipv6(text: str) -> bool:
    return ":" in text and _parses(ipaddress.IPv6Address)(text)


def _is_cidr(text: str) -> bool:
    return "/" in text and _parses(lambda t: ipaddress.ip_network(t, strict=False))(text)


def _is_date(text: str) -> bool:
    return len(text) == 10 and _parses(datetime.date.fromisoformat)(text)


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda text: pattern.match(text) is not None


def _isbn(*patterns: re.Pattern[str]) -> Callable[[str], bool]:
    """An ISBN check: `text` without its dashes and spaces matches one of `patterns`."""
    def accepts(text: str) -> bool:
        compact = text.replace("-", "").replace(" ", "")
        return any(pattern.match(compact) for pattern in patterns)
    return accepts


FORMATS: dict[str, Callable[[str], bool]] = {
    "bsonobjectid": _matches(_BSON_OBJECT_ID),
    "byte": _parses(lambda t: base64.b64decode(t, validate=True)),
    "cidr": _is_cidr,
    "creditcard": _matches(_CREDITCARD),
    "date": _is_date,
    "date-time": _matches(_DATE_TIME),
    "datetime": _matches(_DATE_TIME),
    "duration": _matches(_DURATION),
    "email": _matches(_EMAIL),
    "hexcolor": _matches(_HEXCOLOR),
    "hostname": _matches(_HOSTNAME),
    "ipv4": _is_ipv4,
    "ipv6": _is_ipv6,
    "isbn": _isbn(_ISBN10, _ISBN13),
    "isbn10": _isbn(_ISBN10),
    "isbn13": _isbn(_ISBN13),
    "mac": _matches(_MAC),
    "password": lambda _: True,
    "rgbcolor": _matches(_RGBCOLOR),
    "ssn": _matches(_SSN),
    "uri": _is_uri,
    "uuid": _matches(_UUID),
    **{f"uuid{version}": _matches(pattern) for version, pattern in _UUID_VERSION.items()},
}
