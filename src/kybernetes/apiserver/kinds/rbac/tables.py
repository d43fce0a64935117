"""`kubectl get` columns of the RBAC kinds (printers.go: printRole, printRoleBinding)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api.meta import parse_time
from kybernetes.apiserver.kinds.definition import TableSpec
from kybernetes.apiserver.tables import AGE, AGE_DOC, NAME, since

Obj = dict[str, Any]
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def _name(obj: Obj) -> str:
    meta = obj.get("metadata")
    return str(meta.get("name", "")) if isinstance(meta, dict) else ""


def _created(obj: Obj) -> str:
    meta = obj.get("metadata")
    when = parse_time(meta.get("creationTimestamp") if isinstance(meta, dict) else None)
    if when is None:
        return _GO_ZERO_TIME
    return when.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _print_role(role: Obj, now: _dt.datetime) -> list[Any]:
    return [_name(role), _created(role)]


def subjects_strings(subjects: Any) -> tuple[list[str], list[str], list[str]]:
    """rbac.SubjectsStrings: user names, group names and `namespace/name` of accounts."""
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for s in subjects if isinstance(subjects, list) else []:
        if not isinstance(s, dict):
            continue
        kind, name = s.get("kind"), str(s.get("name", ""))
        if kind == "ServiceAccount":
            accounts.append(f"{s.get('namespace', '')}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    return users, groups, accounts


def _print_binding(binding: Obj, now: _dt.datetime) -> list[Any]:
    ref = binding.get("roleRef")
    ref = ref if isinstance(ref, dict) else {}
    meta = binding.get("metadata")
    created = meta.get("creationTimestamp") if isinstance(meta, dict) else None
    users, groups, accounts = subjects_strings(binding.get("subjects"))
    return [_name(binding), f"{ref.get('kind', '')}/{ref.get('name', '')}", since(created, now),
            ", ".join(users), ", ".join(groups), ", ".join(accounts)]


ROLE = TableSpec((NAME, ("Created At", "date", 0)), _print_role,
                 descriptions={"Created At": AGE_DOC})


def _binding_table(scope: str, role_ref_doc: str) -> TableSpec:
    return TableSpec(
        (NAME, ("Role", "string", 0), AGE, ("Users", "string", 1), ("Groups", "string", 1),
         ("ServiceAccounts", "string", 1)), _print_binding,
        descriptions={"Role": role_ref_doc, "Users": f"Users in the {scope}",
                      "Groups": f"Groups in the {scope}",
                      "ServiceAccounts": f"ServiceAccounts in the {scope}"})


_IMMUTABLE = ("If the RoleRef cannot be resolved, the Authorizer must return an error. This "
              "field is immutable.")
ROLE_BINDING = _binding_table("roleBinding", "RoleRef can reference a Role in the current "
                              "namespace or a ClusterRole in the global namespace. " + _IMMUTABLE)
CLUSTER_ROLE_BINDING = _binding_table("clusterRoleBinding", "RoleRef can only reference a "
                                      "ClusterRole in the global namespace. " + _IMMUTABLE)
