"""A container's environment, as the Kubernetes kubelet builds it.

In order, later winning: the Docker-links-style variables of the namespace's
Services (`<SVC>_SERVICE_HOST`, `<SVC>_SERVICE_PORT`, `<SVC>_PORT_<P>_TCP…`,
what the original Kubernetes gave every container), then `envFrom`, then `env`
with `$(VAR)` expansion over what came before. ConfigMaps and Secrets are read
through an async `lookup(kind, namespace, name)` so this module stays free of
I/O policy; a missing required source raises :class:`ConfigError`, which the
pod worker shows as `CreateContainerConfigError`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from typing import Any

from kybernetes.api.quantity import cpu_millis, memory_bytes

Lookup = Callable[[str, str, str], Awaitable[dict[str, Any] | None]]
_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)|\$\$")


class ConfigError(Exception):
    """A ConfigMap, Secret or key the container needs does not exist."""


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: unknown references stay as written, `$$` is `$`."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return _REF.sub(sub, text)


def _env_name(service: str) -> str:
    return service.upper().replace("-", "_")


def service_env(services: list[dict[str, Any]]) -> dict[str, str]:
    """The link variables for every Service with a cluster IP."""
    env: dict[str, str] = {}
    for svc in sorted(services, key=lambda s: s["metadata"]["name"]):
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        ports = spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        name = _env_name(svc["metadata"]["name"])
        env[f"{name}_SERVICE_HOST"] = ip
        env[f"{name}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            if port.get("name"):
                env[f"{name}_SERVICE_PORT_{_env_name(port['name'])}"] = str(port["port"])
        first = ports[0]
        env[f"{name}_PORT"] = f"{first.get('protocol', 'TCP').lower()}://{ip}:{first['port']}"
        for port in ports:
            proto = port.get("protocol", "TCP")
            prefix = f"{name}_PORT_{port['port']}_{proto.upper()}"
            env[prefix] = f"{proto.lower()}://{ip}:{port['port']}"
            env[f"{prefix}_PROTO"] = proto.lower()
            env[f"{prefix}_PORT"] = str(port["port"])
            env[f"{prefix}_ADDR"] = ip
    return env


def field_ref(pod: dict[str, Any], path: str) -> str:
    """The value of a downward-API fieldRef such as `metadata.labels['app']`."""
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted((meta.get(path.split(".")[1]) or {}).items())
        return "\n".join(f'{k}="{v}"' for k, v in items)
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName"),
              "status.hostIP": status.get("hostIP"), "status.podIP": status.get("podIP"),
              "status.hostIPs": ",".join(i["ip"] for i in status.get("hostIPs") or []),
              "status.podIPs": ",".join(i["ip"] for i in status.get("podIPs") or [])}
    if path not in simple:
        raise ConfigError(f"unsupported fieldRef {path!r}")
    return str(simple[path] or "")


def resource_ref(container: dict[str, Any], ref: dict[str, Any],
                 allocatable: dict[str, int]) -> str:
    """limits.cpu / requests.memory … divided by the divisor, rounded up like Kubernetes."""
    kind, _, res = ref["resource"].partition(".")
    spec = (container.get("resources") or {}).get(kind) or {}
    if res == "cpu":
        value = cpu_millis(spec["cpu"]) if "cpu" in spec else allocatable.get("cpu", 0)
        divisor = cpu_millis(ref.get("divisor") or "1")
    else:
        value = memory_bytes(spec[res]) if res in spec else allocatable.get(res, 0)
        divisor = memory_bytes(ref.get("divisor") or "1")
    return str(-(-value // max(divisor, 1)))


async def _key(lookup: Lookup, kind: str, namespace: str, ref: dict[str, Any]) -> str | None:
    obj = await lookup(kind, namespace, ref["name"])
    optional = bool(ref.get("optional"))
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{kind.lower()} "{ref["name"]}" not found')
    data = _data(kind, obj)
    if ref["key"] not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {ref['key']} in {kind} "
                          f"{namespace}/{ref['name']}")
    return data[ref["key"]]


def _data(kind: str, obj: dict[str, Any]) -> dict[str, str]:
    if kind == "Secret":
        out = {k: base64.b64decode(v).decode(errors="replace")
               for k, v in (obj.get("data") or {}).items()}
        out.update(obj.get("stringData") or {})
        return out
    return dict(obj.get("data") or {})


async def container_env(pod: dict[str, Any], container: dict[str, Any], *,
                        services: list[dict[str, Any]], lookup: Lookup,
                        allocatable: dict[str, int] | None = None) -> dict[str, str]:
    """The full environment for `container` of `pod`."""
    namespace = pod["metadata"].get("namespace", "default")
    env: dict[str, str] = {}
    if pod["spec"].get("enableServiceLinks", True):
        env.update(service_env(services))
    for source in container.get("envFrom") or []:
        kind, ref = ("ConfigMap", source["configMapRef"]) if "configMapRef" in source \
            else ("Secret", source.get("secretRef") or {})
        obj = await lookup(kind, namespace, ref.get("name", ""))
        if obj is None:
            if ref.get("optional"):
                continue
            raise ConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
        prefix = source.get("prefix", "")
        env.update({prefix + k: v for k, v in _data(kind, obj).items()})
    for var in container.get("env") or []:
        value = await _var(pod, container, var, env, lookup, allocatable or {})
        if value is not None:
            env[var["name"]] = value
    return env


async def _var(pod: dict[str, Any], container: dict[str, Any], var: dict[str, Any],
               env: dict[str, str], lookup: Lookup, allocatable: dict[str, int]) -> str | None:
    if "valueFrom" not in var:
        return expand(str(var.get("value", "")), env)
    source = var["valueFrom"]
    namespace = pod["metadata"].get("namespace", "default")
    if "fieldRef" in source:
        return field_ref(pod, source["fieldRef"]["fieldPath"])
    if "resourceFieldRef" in source:
        return resource_ref(container, source["resourceFieldRef"], allocatable)
    if "configMapKeyRef" in source:
        return await _key(lookup, "ConfigMap", namespace, source["configMapKeyRef"])
    if "secretKeyRef" in source:
        return await _key(lookup, "Secret", namespace, source["secretKeyRef"])
    return None


def command_line(container: dict[str, Any], env: dict[str, str]) -> list[str]:
    """command + args with `$(VAR)` expanded (no image entrypoint here)."""
    return [expand(str(a), env) for a in (container.get("command") or [])
            + (container.get("args") or [])]
