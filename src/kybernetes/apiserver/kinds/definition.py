"""One kind, described in one place: everything the generic API machinery asks of it.

As Kubernetes keeps ``pkg/registry/<group>/<kind>/`` (the REST storage, its
strategy, its table convertor and field selectors) beside the shared validation
and defaulting libraries, a :class:`KindDefinition` names, for one
group/version/resource:

* its REST identity (:class:`~kybernetes.api.resources.Resource`: kind, plural,
  scope, short names, categories, subresources, verbs),
* its schema (the OpenAPI node that type checks, unknown fields, strategic merge
  patch, server-side apply and the published OpenAPI read),
* defaulting and validation,
* the strategy (what create, update and each subresource may change),
* the table printed for ``kubectl get`` and the field selectors it supports,
* the scale subresource's paths, and hooks run around its writes (the Service
  address allocator).

Built-in kinds and custom resources are both definitions, registered the same
way in the live :class:`~kybernetes.apiserver.kinds.registry.KindRegistry`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kybernetes.api import meta as names
from kybernetes.api.field_errors import Cause, ErrorList
from kybernetes.api.fields import METADATA_FIELDS, Getter
from kybernetes.api.resources import Resource
from kybernetes.api.validation import validate_object
from kybernetes.apiserver.kinds.strategy import Strategy

Obj = dict[str, Any]
Node = dict[str, Any]
Defaulter = Callable[[Obj], None]
Validator = Callable[[ErrorList, Obj, Obj | None], None]
NameCheck = Callable[[str], list[str]]
SchemaSource = Callable[[], Node | None]
Column = tuple[str, str, int]  # name, type, priority (1: only with -o wide)
Printer = Callable[[Obj, _dt.datetime], list[Any]]


@dataclass(frozen=True)
class TableSpec:
    """The columns ``kubectl get`` shows and how one object fills them."""

    columns: tuple[Column, ...]
    printer: Printer
    # Row conditions (a finished pod is "Completed"), or None for none.
    row_conditions: Callable[[Obj], list[Obj] | None] | None = None
    # Descriptions of columns beyond Name and Age (CRD printer columns carry theirs).
    descriptions: Mapping[str, str] = field(default_factory=dict)
    # Formats of columns (CRD printer columns may say "date", "int32", ...).
    formats: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScaleSpec:
    """Where a scalable kind keeps its replicas, and how its selector reads as text."""

    selector: Callable[[Obj], str]
    spec_replicas: tuple[str, ...] = ("spec", "replicas")
    status_replicas: tuple[str, ...] = ("status", "replicas")
    default_replicas: int = 1


class WriteHooks(Protocol):
    """Work a kind needs around its writes (e.g. Service address allocation)."""

    async def before_write(self, new: Obj, old: Obj | None, *, dry_run: bool) -> None:
        """Called before storing `new` (old None on create); may fill `new`."""

    async def write_failed(self, new: Obj, old: Obj | None) -> None:
        """The store refused the write prepared by before_write: give back what it took."""

    async def after_delete(self, obj: Obj) -> None:
        """The object is gone from the store."""


class HookSource(Protocol):
    """What the API server offers kinds that need hooks."""

    @property
    def service_addresses(self) -> WriteHooks | None: ...


class Conversion(Protocol):
    """A built-in kind served in a version other than its storage version with other
    fields (autoscaling/v1's view of autoscaling/v2 HorizontalPodAutoscalers)."""

    def to_storage(self, obj: Obj, old: Obj | None) -> Obj:
        """The object in the storage version (`old`: the stored object on updates,
        whose fields this version cannot show are kept)."""

    def from_storage(self, obj: Obj) -> Obj:
        """The stored object as this version shows it."""


@dataclass(frozen=True, eq=False)
class KindDefinition:
    """Everything that makes one group/version/resource behave as Kubernetes' does."""

    resource: Resource
    schema: SchemaSource
    defaults: Defaulter | None
    validate: Validator | None
    strategy: Strategy
    table: TableSpec
    field_selectors: Mapping[str, Getter]
    name_check: NameCheck = names.is_dns1123_subdomain
    scale: ScaleSpec | None = None
    hooks: Callable[[HookSource], WriteHooks | None] | None = None
    # Where its objects live in the store; "" for the built-in layout
    # (/registry/<plural>/); custom resources use /registry/<group>/<plural>/.
    storage_prefix: str = ""
    # The name of its definition in the published OpenAPI documents.
    openapi_name: str = ""
    # A deprecation warning sent with every request for this version, or "".
    deprecation_warning: str = ""
    # False for a version that is registered but not served (CRD versions).
    served: bool = True
    # The apiVersion objects are stored in (custom resources with several versions).
    storage_version: str = ""
    # Field conversion to and from the storage version; None: only apiVersion differs.
    convert: Conversion | None = None
    # Strategic merge patch needs Go struct tags; custom resources refuse it (415).
    strategic_merge: bool = True
    # Why creates are refused now ("" when they are not): a terminating CRD's kind.
    creates_refused: str = ""
    # Drops the fields its schema does not know and says which (custom resources: the
    # structural prune); None: the walk over `schema` (Kubernetes' own kinds).
    prune_unknown: Callable[[Obj], list[str]] | None = None
    # Writes through these subresources are validated by their own check instead of
    # `validate` (kube's per-subresource strategies: a pod's ephemeralcontainers).
    subresource_validate: Mapping[str, Validator] = field(default_factory=dict)
    # Validated as kube-apiserver's own kinds (pkg/apis/core/validation's metadata rules);
    # False for apiextensions' kinds and custom resources (apimachinery's generic rules).
    core_validation: bool = True

    @property
    def key_prefix(self) -> str:
        return self.storage_prefix or f"/registry/{self.resource.plural}/"

    @property
    def selectable_fields(self) -> dict[str, Getter]:
        """Every field a field selector may name: metadata's and the kind's own."""
        return {**METADATA_FIELDS, **self.field_selectors}

    @property
    def has_status(self) -> bool:
        return "status" in self.resource.subresources

    def apply_defaults(self, obj: Obj) -> None:
        """Fill in the kind's defaults (mutates `obj`)."""
        if self.defaults is not None and isinstance(obj, dict):
            self.defaults(obj)

    def causes(self, obj: Obj, old: Obj | None = None, *, types_checked: bool = False,
               subresource: str | None = None) -> list[Cause]:
        """Every validation problem of `obj` (and of the change from `old`, written through
        `subresource`); the JSON type walk is left out when `types_checked`."""
        # A custom resource's structural validation checks JSON types itself.
        walk_types = self.core_validation and not types_checked
        check = self.subresource_validate.get(subresource or "", self.validate)
        return validate_object(obj, old, schema_root=self.schema() if walk_types else None,
                               namespaced=self.resource.namespaced, name_check=self.name_check,
                               check=check, builtin=self.core_validation)

    def present(self, obj: Obj) -> Obj:
        """The object as this version shows it: the same fields under this apiVersion
        (custom resources convert between versions with strategy None)."""
        api_version = self.resource.api_version
        if obj.get("apiVersion", api_version) == api_version:
            return obj
        if self.convert is not None:
            return self.convert.from_storage(obj)
        return {**obj, "apiVersion": api_version}

    def to_storage(self, obj: Obj, old: Obj | None) -> Obj:
        """An object sent in this version, in the storage version."""
        return obj if self.convert is None else self.convert.to_storage(obj, old)

    def key(self, namespace: str | None, name: str) -> str:
        if self.resource.namespaced:
            return f"{self.key_prefix}{namespace}/{name}"
        return f"{self.key_prefix}{name}"

    def prefix(self, namespace: str | None) -> str:
        if self.resource.namespaced and namespace:
            return f"{self.key_prefix}{namespace}/"
        return self.key_prefix


def builtin_schema(openapi_name: str) -> SchemaSource:
    """The schema of a built-in kind, from Kubernetes' own definitions (read on first use)."""
    from kybernetes.api import schema

    return lambda: schema.definition(openapi_name)
