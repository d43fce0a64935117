"""The admission chain: mutating plugins before the strategy validates, validating
plugins after, as kube-apiserver runs them.

The registry calls :meth:`AdmissionChain.mutate` on the object a create or
update is about to store (after defaulting and, for updates, after the patch
or replacement was computed) and :meth:`AdmissionChain.validate` on the final
object just before the store, so that a plugin sees exactly what would be
written. Deletes go through both with the old object. Plugins (webhooks,
ValidatingAdmissionPolicies) know nothing of the registry: they see
:class:`AdmissionAttributes` only. With no plugins the chain costs nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol

from kybernetes.apiserver.context import WriteContext
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.webhooks.attributes import AdmissionAttributes, UserInfo

Obj = dict[str, Any]

_OPTIONS = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


class MutatingPlugin(Protocol):
    async def mutate(self, attrs: AdmissionAttributes) -> tuple[Obj | None, list[str]]:
        """The object as the plugin changed it, and warnings: None when unchanged;
        `attrs.object` itself when changed in place (a built-in plugin on a create's
        new object, the registry's own, as kube's plugins change the typed object);
        else a new object (a webhook's patch), which the chain defaults again."""


class ValidatingPlugin(Protocol):
    async def validate(self, attrs: AdmissionAttributes) -> list[str]:
        """Raise an ApiError to refuse; return warnings."""


def attributes(kind: KindDefinition, ctx: WriteContext, *,
               namespace: str | None, name: str, obj: Obj | None,
               old: Obj | None) -> AdmissionAttributes:
    """One request as admission sees it."""
    r = kind.resource
    operation = ctx.operation
    options: Obj = {"kind": _OPTIONS.get(operation, "CreateOptions"),
                    "apiVersion": "meta.k8s.io/v1"}
    if ctx.dry_run:
        options["dryRun"] = ["All"]
    if ctx.field_manager and operation != "DELETE":
        options["fieldManager"] = ctx.field_manager
    user = ctx.user
    return AdmissionAttributes(
        operation=operation, group=r.group, version=r.version, resource=r.plural,
        kind=r.kind, user=UserInfo(user.name, user.uid, tuple(user.groups)),
        subresource=ctx.subresource or "",
        namespace=(namespace or "") if r.namespaced else (name if r.kind == "Namespace"
                                                          else ""),
        name=name, object=obj, old_object=old, options=options, dry_run=ctx.dry_run,
        namespaced=r.namespaced)


@dataclass
class AdmissionChain:
    mutating: list[MutatingPlugin] = field(default_factory=list)
    validating: list[ValidatingPlugin] = field(default_factory=list)

    async def mutate(self, kind: KindDefinition, ctx: WriteContext, *,
                     namespace: str | None, name: str, obj: Obj | None,
                     old: Obj | None) -> Obj | None:
        """`obj` after every mutating plugin (re-defaulted after each change)."""
        if not self.mutating:
            return obj
        # Made once: plugins read the attributes, and only the object moves on.
        attrs = attributes(kind, ctx, namespace=namespace, name=name, obj=obj, old=old)
        for plugin in self.mutating:
            changed, warnings = await plugin.mutate(attrs)
            ctx.warnings.extend(warnings)
            if changed is not None and changed is not obj:
                obj = changed
                kind.apply_defaults(obj)
                attrs = dataclasses.replace(attrs, object=obj)
        return obj

    async def validate(self, kind: KindDefinition, ctx: WriteContext, *,
                       namespace: str | None, name: str, obj: Obj | None,
                       old: Obj | None) -> None:
        """Every validating plugin must allow the request."""
        if not self.validating:
            return
        attrs = attributes(kind, ctx, namespace=namespace, name=name, obj=obj,
                           old=old)
        for plugin in self.validating:
            ctx.warnings.extend(await plugin.validate(attrs))
