"""The scheduler's configuration file: a subset of KubeSchedulerConfiguration (v1).

::

    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    percentageOfNodesToScore: 0          # 0 = adaptive, as Kubernetes
    podInitialBackoffSeconds: 1
    podMaxBackoffSeconds: 10
    profiles:
    - schedulerName: default-scheduler
      plugins:
        multiPoint: {enabled: [{name: X, weight: 2}], disabled: [{name: Y}]}
        filter:     {disabled: [{name: NodePorts}]}
        score:      {enabled: [{name: NodeResourcesFit, weight: 5}]}
      pluginConfig:
      - name: NodeResourcesFit
        args: {scoringStrategy: {type: MostAllocated}}

Each profile starts from the default plugin set. `multiPoint` enables or
disables a plugin at every extension point it implements; the per-point lists
then adjust one point (`name: "*"` disables all defaults there). A plugin that
filters also runs its PreFilter, one that scores its PreScore, so those two
points need not be listed. Mistakes raise :class:`ConfigError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kybernetes.scheduler.plugins import DEFAULT_PLUGINS, REGISTRY

DEFAULT_SCHEDULER_NAME = "default-scheduler"
API_VERSION = "kubescheduler.config.k8s.io/v1"
#: extension point in the config -> the method a plugin needs for it
POINTS = {"preFilter": "pre_filter", "filter": "filter", "postFilter": "post_filter",
          "preScore": "pre_score", "score": "score", "reserve": "reserve", "bind": "bind"}
_TOP_LEVEL = {"apiVersion", "kind", "percentageOfNodesToScore", "podInitialBackoffSeconds",
              "podMaxBackoffSeconds", "profiles", "leaderElection", "clientConnection",
              "parallelism"}


class ConfigError(ValueError):
    """The configuration is invalid; the message names the field."""


@dataclass
class ProfileConfig:
    scheduler_name: str
    #: extension point -> [(plugin name, weight)] in run order
    plugins: dict[str, list[tuple[str, int]]]
    args: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class SchedulerConfig:
    profiles: list[ProfileConfig]
    percentage_of_nodes_to_score: int = 0
    pod_initial_backoff: float = 1.0
    pod_max_backoff: float = 10.0


def implements(name: str, point: str) -> bool:
    return callable(getattr(REGISTRY[name], POINTS[point], None))


def _names(entries: Any, where: str) -> list[tuple[str, int]]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: Invalid value: must be a list")
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("name"), str):
            raise ConfigError(f"{where}[{i}].name: Required value")
        name, weight = e["name"], e.get("weight") or 0
        if name != "*" and name not in REGISTRY:
            raise ConfigError(f'{where}[{i}].name: Invalid value: "{name}": unknown plugin')
        if not isinstance(weight, int) or weight < 0:
            raise ConfigError(f"{where}[{i}].weight: Invalid value: {weight!r}: "
                              "must be a non-negative integer")
        out.append((name, weight))
    return out


def _apply(current: list[tuple[str, int]], section: Any, where: str,
           point: str | None) -> list[tuple[str, int]]:
    """Apply one {enabled, disabled} section to a point's plugin list."""
    if section is None:
        return current
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: Invalid value: must be a mapping")
    disabled = {n for n, _ in _names(section.get("disabled"), f"{where}.disabled")}
    enabled = _names(section.get("enabled"), f"{where}.enabled")
    if point is not None:
        for i, (name, _) in enumerate(enabled):
            if not implements(name, point):
                raise ConfigError(f'{where}.enabled[{i}].name: Invalid value: "{name}": '
                                  f"plugin does not implement {point}")
    custom = dict(enabled)
    out = [(n, custom.pop(n) or w) if n in custom else (n, w)
           for n, w in current if "*" not in disabled and n not in disabled]
    out += [(n, w) for n, w in enabled if n in custom]
    return out


def _resolve(plugins: Any, where: str) -> dict[str, list[tuple[str, int]]]:
    if plugins is None:
        plugins = {}
    if not isinstance(plugins, dict):
        raise ConfigError(f"{where}: Invalid value: must be a mapping")
    for key in plugins:
        if key != "multiPoint" and key not in POINTS:
            raise ConfigError(f'{where}: Invalid value: "{key}": unknown extension point')
    multi = _apply(list(DEFAULT_PLUGINS), plugins.get("multiPoint"), f"{where}.multiPoint", None)
    resolved = {}
    for point in POINTS:
        base = [(n, w) for n, w in multi if implements(n, point)]
        resolved[point] = _apply(base, plugins.get(point), f"{where}.{point}", point)
    # PreFilter/PreScore follow Filter/Score, so a filter always has its state.
    for pre, main in (("preFilter", "filter"), ("preScore", "score")):
        names = [n for n, _ in _apply([], plugins.get(pre), f"{where}.{pre}", pre)]
        names += [n for n, _ in resolved[main] if implements(n, pre) and n not in names]
        resolved[pre] = [(n, 0) for n in names]
    resolved["score"] = [(n, w or 1) for n, w in resolved["score"]]
    if not resolved["bind"]:
        raise ConfigError(f"{where}.bind: Required value: at least one bind plugin")
    return resolved


def _profile(doc: Any, i: int) -> ProfileConfig:
    where = f"profiles[{i}]"
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: Invalid value: must be a mapping")
    name = doc.get("schedulerName") or DEFAULT_SCHEDULER_NAME
    args: dict[str, dict[str, Any]] = {}
    for j, pc in enumerate(doc.get("pluginConfig") or []):
        pname = (pc or {}).get("name")
        if pname not in REGISTRY:
            raise ConfigError(f'{where}.pluginConfig[{j}].name: Invalid value: "{pname}": '
                              "unknown plugin")
        args[pname] = pc.get("args") or {}
    return ProfileConfig(name, _resolve(doc.get("plugins"), f"{where}.plugins"), args)


def parse_config(doc: Any) -> SchedulerConfig:
    """Validate a decoded configuration document."""
    doc = doc or {}
    if not isinstance(doc, dict):
        raise ConfigError("the configuration must be a mapping")
    if doc.get("apiVersion", API_VERSION) != API_VERSION:
        raise ConfigError(f'apiVersion: Unsupported value: "{doc.get("apiVersion")}": '
                          f'supported values: "{API_VERSION}"')
    for key in doc:
        if key not in _TOP_LEVEL:
            raise ConfigError(f'unknown field "{key}"')
    profiles = [_profile(p, i) for i, p in enumerate(doc.get("profiles") or [{}])]
    seen: set[str] = set()
    for i, p in enumerate(profiles):
        if p.scheduler_name in seen:
            raise ConfigError(f'profiles[{i}].schedulerName: Duplicate value: '
                              f'"{p.scheduler_name}"')
        seen.add(p.scheduler_name)
    pct = doc.get("percentageOfNodesToScore") or 0
    if not isinstance(pct, int) or not 0 <= pct <= 100:
        raise ConfigError(f"percentageOfNodesToScore: Invalid value: {pct!r}: "
                          "not in valid range [0-100]")
    initial = doc.get("podInitialBackoffSeconds", 1)
    maximum = doc.get("podMaxBackoffSeconds", 10)
    if not (isinstance(initial, int | float) and isinstance(maximum, int | float)) \
            or initial <= 0 or maximum < initial:
        raise ConfigError("podInitialBackoffSeconds/podMaxBackoffSeconds: Invalid value: "
                          "need 0 < initial <= max")
    return SchedulerConfig(profiles, pct, float(initial), float(maximum))


def load_config(path: str | Path | None) -> SchedulerConfig:
    """Read and validate a config file; None gives the default configuration."""
    if path is None:
        return parse_config({})
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from None
    return parse_config(doc)
