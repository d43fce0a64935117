"""Object metadata helpers: name rules, timestamps, keys, owners and pod readiness.

The name checks return lists of messages worded exactly as Kubernetes'
apimachinery/pkg/util/validation does, because clients show them verbatim
(`a lowercase RFC 1123 subdomain must consist of …`). Validation, label
selectors and the API server all take their wording from here, so a rule is
written once. Everything is pure: no clock is read except by `now_rfc3339`, and no
randomness drawn except by `random_suffix`.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import random
import re
import time as _time
from typing import Any

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = rf"{_DNS1123_LABEL_FMT}(\.{_DNS1123_LABEL_FMT})*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = f"({_QUALIFIED_NAME_FMT})?"
_ENV_VAR_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"

_DNS1123_LABEL = re.compile(f"^{_DNS1123_LABEL_FMT}$")
_DNS1123_SUBDOMAIN = re.compile(f"^{DNS1123_SUBDOMAIN_FMT}$")
_DNS1035_LABEL = re.compile(f"^{_DNS1035_LABEL_FMT}$")
_QUALIFIED_NAME = re.compile(f"^{_QUALIFIED_NAME_FMT}$")
_LABEL_VALUE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_ENV_VAR = re.compile(f"^{_ENV_VAR_FMT}$")
_CONFIG_KEY = re.compile(f"^{_CONFIG_KEY_FMT}$")
_PORT_NAME_CHARS = re.compile("^[-a-z0-9]+$")
_HAS_LETTER = re.compile("[a-z]")

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253


def is_ip(text: Any) -> bool:
    """Whether `text` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(str(text))
    except ValueError:
        return False
    return True


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """Kubernetes' RegexError text: the rule, examples and the regex itself."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def is_dns1123_label(value: str) -> list[str]:
    """Errors for a lowercase RFC 1123 label (namespace names, container names)."""
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _DNS1123_LABEL.match(value):
        errs.append(regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
            "or '-', and must start and end with an alphanumeric character",
            _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """Errors for a lowercase RFC 1123 subdomain (most object names)."""
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _DNS1123_SUBDOMAIN.match(value):
        errs.append(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    """Errors for a DNS-1035 label (Service names)."""
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _DNS1035_LABEL.match(value):
        errs.append(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
            "start with an alphabetic character, and end with an alphanumeric character",
            _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """Errors for a label or annotation key: `[prefix/]name`."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
        errs: list[str] = []
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs = ["prefix part must be non-empty"]
        else:
            errs = [f"prefix part {m}" for m in is_dns1123_subdomain(prefix)]
    else:
        return [regex_error(
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character", _QUALIFIED_NAME_FMT,
            "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > DNS1123_LABEL_MAX:
        errs.append("name part " + max_len_error(DNS1123_LABEL_MAX))
    if name and not _QUALIFIED_NAME.match(name):
        errs.append("name part " + regex_error(
            "must consist of alphanumeric characters, '-', '_' or '.', and must start and "
            "end with an alphanumeric character", _QUALIFIED_NAME_FMT,
            "MyName", "my.name", "123-abc"))
    return errs


def is_path_segment_name(value: str) -> list[str]:
    """apimachinery's path.IsValidPathSegmentName: a name that is safe as one URL path
    segment (RBAC roles and bindings, admission policies)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def is_valid_label_value(value: str) -> list[str]:
    """Errors for a label value (may be empty)."""
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _LABEL_VALUE.match(value):
        errs.append(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character",
            _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_env_var_name(value: str) -> list[str]:
    errs = []
    if not _ENV_VAR.match(value):
        errs.append(regex_error(
            "a valid environment variable name must consist of alphabetic characters, "
            "digits, '_', '-', or '.', and must not start with a digit",
            _ENV_VAR_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
    return errs + _dot_errors(value)


def is_config_map_key(value: str) -> list[str]:
    """Errors for a ConfigMap or Secret data key."""
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _CONFIG_KEY.match(value):
        errs.append(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    return errs + _dot_errors(value)


def _dot_errors(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_valid_port_num(port: Any) -> list[str]:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        return ["must be between 1 and 65535, inclusive"]
    return []


def is_valid_port_name(name: str) -> list[str]:
    """Errors for an IANA service name (container and service port names)."""
    errs = []
    if len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS.match(name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if not _HAS_LETTER.search(name):
        errs.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


# --- generated names ------------------------------------------------------------------

NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # no vowels: no words by chance


def random_suffix(length: int = 5) -> str:
    """Kubernetes' SimpleNameGenerator suffix (`kube-api-access-7xq2k`)."""
    return "".join(random.choices(NAME_SUFFIX_ALPHABET, k=length))


# --- time ------------------------------------------------------------------------------

def now_rfc3339(now: _dt.datetime | None = None) -> str:
    """`2026-11-25T22:33:56Z`, as metav1.Time serializes (whole seconds, UTC)."""
    if now is None:
        return _this_second()
    return now.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_SECOND: tuple[int, str] = (-1, "")


def _this_second() -> str:
    """The current second's text, formatted once per second (every write stamps it)."""
    global _SECOND
    second = int(_time.time())
    cached = _SECOND
    if cached[0] != second:
        cached = _SECOND = (second, _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(second)))
    return cached[1]


def now_rfc3339_micro(now: _dt.datetime | None = None) -> str:
    """metav1.MicroTime: `2026-11-25T22:33:56.123456Z`."""
    now = now or _dt.datetime.now(_dt.UTC)
    return now.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> _dt.datetime | None:
    """Parse an RFC 3339 timestamp (Time or MicroTime); None for empty or bad input."""
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# --- keys and owners -------------------------------------------------------------------

def object_key(obj: dict[str, Any]) -> str:
    """`namespace/name`, or `name` for a cluster-scoped object (informer cache key)."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name', '')}" if namespace else str(meta.get("name", ""))


def split_key(key: str) -> tuple[str | None, str]:
    """The inverse of `object_key`."""
    namespace, sep, name = key.partition("/")
    return (namespace, name) if sep else (None, namespace)


def owner_reference(owner: dict[str, Any], *, controller: bool = True,
                    block_owner_deletion: bool = True) -> dict[str, Any]:
    """An ownerReference pointing at `owner`, as controllers set it."""
    meta = owner.get("metadata") or {}
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "controller": controller,
        "blockOwnerDeletion": block_owner_deletion,
    }


def controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The ownerReference with `controller: true`, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def is_owned_by(obj: dict[str, Any], owner_uid: str) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return any(ref.get("uid") == owner_uid for ref in refs)


def newest(objs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The most recently created object, ties to the first name: how Kubernetes picks
    among several classes marked default (StorageClass, IngressClass)."""
    def order(obj: dict[str, Any]) -> tuple[float, str]:
        meta = obj.get("metadata") or {}
        created = parse_time(meta.get("creationTimestamp"))
        return (-created.timestamp() if created else 0.0, str(meta.get("name", "")))
    return min(objs, key=order, default=None)


MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"  # a kubelet's static pod's mirror


def is_being_deleted(obj: dict[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


# --- pods --------------------------------------------------------------------------------

def pod_condition(pod: dict[str, Any], condition_type: str) -> dict[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == condition_type:
            return condition
    return None


def is_pod_ready(pod: dict[str, Any]) -> bool:
    """True when the pod's Ready condition is True."""
    condition = pod_condition(pod, "Ready")
    return condition is not None and condition.get("status") == "True"


def is_pod_active(pod: dict[str, Any]) -> bool:
    """Not finished and not being deleted (what controllers count as a replica)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not is_being_deleted(pod)


def is_pod_available(pod: dict[str, Any], min_ready_seconds: int = 0,
                     now: _dt.datetime | None = None) -> bool:
    """Ready for at least `min_ready_seconds` (Deployment/ReplicaSet availability)."""
    condition = pod_condition(pod, "Ready")
    if not condition or condition.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(condition.get("lastTransitionTime"))
    if since is None:
        return False
    now = now or _dt.datetime.now(_dt.UTC)
    return (now - since).total_seconds() >= min_ready_seconds
