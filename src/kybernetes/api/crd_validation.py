"""Defaulting and validation of CustomResourceDefinitions (apiextensions.k8s.io/v1).

After apiextensions-apiserver's pkg/apis/apiextensions/v1/defaults.go and
pkg/apis/apiextensions/validation: the name is `<plural>.<group>`, the group a
domain with a dot, names DNS-1035 labels (kinds may have mixed case), exactly
one storage version, a structural schema per version (checked by
:mod:`kybernetes.api.structural.check`), scale paths under `.spec`/`.status`,
printer columns of known types. Messages are Kubernetes' so kubectl prints them
as users know them.
"""

from __future__ import annotations

import re
from typing import Any

from kybernetes.api import meta as names
from kybernetes.api.field_errors import ErrorList, Obj, as_dict, as_list
from kybernetes.api.structural.check import check_schema

SCOPES = ("Cluster", "Namespaced")
COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_JSON_PATH = re.compile(r"^(\.[A-Za-z0-9_\-]+|\[[^\]]+\])+$")


def crd_defaults(crd: Obj) -> None:
    """SetDefaults_CustomResourceDefinition(Spec): singular, listKind, conversion None,
    service port 443."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    crd_names = spec.get("names")
    if isinstance(crd_names, dict) and isinstance(crd_names.get("kind"), str):
        if not crd_names.get("singular"):
            crd_names["singular"] = crd_names["kind"].lower()
        if not crd_names.get("listKind"):
            crd_names["listKind"] = crd_names["kind"] + "List"
    conversion = spec.setdefault("conversion", {"strategy": "None"})
    if isinstance(conversion, dict):
        service = as_dict(as_dict(as_dict(conversion.get("webhook")).get("clientConfig"))
                          .get("service"))
        if service:
            service.setdefault("port", 443)
    for version in as_list(spec.get("versions")):
        for column in as_list(as_dict(version).get("additionalPrinterColumns")):
            if isinstance(column, dict):
                column.setdefault("priority", 0)  # v1 omits it; 0 shows in plain `get`


def _dns1035(errs: ErrorList, path: str, value: Any, *, mixed_case: bool = False) -> None:
    if not value:
        errs.required(path)
        return
    found = names.is_dns1035_label(str(value).lower() if mixed_case else str(value))
    if found:
        prefix = "may have mixed case, but should otherwise match: " if mixed_case else ""
        errs.invalid(path, value, prefix + ",".join(found))


def _validate_names(errs: ErrorList, crd_names: Obj, path: str) -> None:
    _dns1035(errs, f"{path}.plural", crd_names.get("plural"))
    _dns1035(errs, f"{path}.singular", crd_names.get("singular"))
    _dns1035(errs, f"{path}.kind", crd_names.get("kind"), mixed_case=True)
    _dns1035(errs, f"{path}.listKind", crd_names.get("listKind"), mixed_case=True)
    if crd_names.get("kind") and crd_names.get("kind") == crd_names.get("listKind"):
        errs.invalid(f"{path}.listKind", crd_names.get("listKind"),
                     "kind and listKind may not be the same")
    for field in ("shortNames", "categories"):
        for i, item in enumerate(as_list(crd_names.get(field))):
            found = names.is_dns1035_label(str(item))
            if found:
                errs.invalid(f"{path}.{field}[{i}]", item, ",".join(found))


def _under(errs: ErrorList, path: str, value: Any, roots: tuple[str, ...], why: str) -> None:
    text = str(value or "")
    if not text:
        errs.required(path)
    elif not any(text.startswith(root + ".") for root in roots) or not _JSON_PATH.match(text):
        errs.invalid(path, text, why)


def _validate_subresources(errs: ErrorList, subresources: Obj, path: str) -> None:
    scale = subresources.get("scale")
    if scale is None:
        return
    scale = as_dict(scale)
    _under(errs, f"{path}.scale.specReplicasPath", scale.get("specReplicasPath"), (".spec",),
           "should be a json path under .spec")
    _under(errs, f"{path}.scale.statusReplicasPath", scale.get("statusReplicasPath"),
           (".status",), "should be a json path under .status")
    if scale.get("labelSelectorPath"):
        _under(errs, f"{path}.scale.labelSelectorPath", scale.get("labelSelectorPath"),
               (".spec", ".status"), "should be a json path under either .spec or .status")


def _validate_columns(errs: ErrorList, columns: list[Any], path: str) -> None:
    seen: set[str] = set()
    for i, column in enumerate(columns):
        column, p = as_dict(column), f"{path}[{i}]"
        name = column.get("name")
        if not name:
            errs.required(f"{p}.name")
        elif name in seen:
            errs.duplicate(f"{p}.name", name)
        seen.add(str(name))
        if not column.get("type"):
            errs.required(f"{p}.type")
        else:
            errs.one_of(f"{p}.type", column.get("type"), COLUMN_TYPES)
        if column.get("format"):
            errs.one_of(f"{p}.format", column.get("format"), COLUMN_FORMATS)
        if not column.get("jsonPath"):
            errs.required(f"{p}.jsonPath")
        priority = column.get("priority", 0)
        if not isinstance(priority, int) or priority < 0:
            errs.invalid(f"{p}.priority", priority, "must be greater than or equal to 0")


def _validate_versions(errs: ErrorList, versions: list[Any]) -> None:
    if not versions:
        errs.invalid("spec.versions", versions, "must have exactly one version marked as "
                                                "storage version")
        return
    storage, seen = 0, set()
    for i, version in enumerate(versions):
        version, p = as_dict(version), f"spec.versions[{i}]"
        name = version.get("name")
        _dns1035(errs, f"{p}.name", name)
        if name in seen:
            errs.duplicate(f"{p}.name", name)
        seen.add(name)
        storage += bool(version.get("storage"))
        schema = as_dict(version.get("schema")).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            errs.required(f"{p}.schema.openAPIV3Schema", "schemas are required")
        else:
            errs.causes.extend(check_schema(schema, f"{p}.schema.openAPIV3Schema"))
        _validate_subresources(errs, as_dict(version.get("subresources")), f"{p}.subresources")
        _validate_columns(errs, as_list(version.get("additionalPrinterColumns")),
                          f"{p}.additionalPrinterColumns")
    if storage != 1:
        errs.invalid("spec.versions", versions, "must have exactly one version marked as "
                                                "storage version")
    if not any(as_dict(v).get("served") for v in versions):
        errs.invalid("spec.versions", versions, "must have at least one version marked as "
                                                "served")


def validate_crd(errs: ErrorList, crd: Obj, old: Obj | None) -> None:
    """ValidateCustomResourceDefinition (and ValidateCustomResourceDefinitionUpdate)."""
    spec = as_dict(crd.get("spec"))
    crd_names = as_dict(spec.get("names"))
    group = spec.get("group") or ""
    name = as_dict(crd.get("metadata")).get("name")
    plural = crd_names.get("plural") or ""
    if name != f"{plural}.{group}":
        errs.invalid("metadata.name", name or "", 'must be spec.names.plural+"."+spec.group')
    if not group:
        errs.required("spec.group")
    else:
        found = names.is_dns1123_subdomain(group)
        if found:
            errs.invalid("spec.group", group, ",".join(found))
        elif "." not in group:
            errs.invalid("spec.group", group, "should be a domain with at least one dot")
    if not spec.get("scope"):
        errs.required("spec.scope")
    else:
        errs.one_of("spec.scope", spec.get("scope"), SCOPES)
    _validate_names(errs, crd_names, "spec.names")
    _validate_versions(errs, as_list(spec.get("versions")))
    strategy = as_dict(spec.get("conversion")).get("strategy")
    errs.one_of("spec.conversion.strategy", strategy, ("None", "Webhook"))
    if strategy == "Webhook":
        errs.forbidden("spec.conversion.strategy",
                       "conversion webhooks are not supported by this server; use \"None\"")
    if old is not None:
        old_spec = as_dict(old.get("spec"))
        errs.immutable("spec.scope", spec.get("scope"), old_spec.get("scope"))
        errs.immutable("spec.group", group, old_spec.get("group"))
