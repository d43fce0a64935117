"""Server-side apply and managedFields, as a pure library (no I/O).

The API server calls, per write (see each module for the why):

- create/update/patch (operation "Update"):
  `update_managed_fields(old, new, managed_fields_for_update(old, new, subresource), ...)`,
  then `store(new, entries)`;
- apply (PATCH application/apply-patch+yaml): `apply(live, config, live_managed, ...)`;
- the manager name when the client gave none: `manager_or_user_agent(fieldManager, user_agent)`;
- the fields an endpoint resets: `reset_fields(schema, subresource)`.

Modules: fieldset (the trie and fieldsV1), shape (schema decisions), walk (field
sets and comparisons of values), merge, prune, managers (entries), conflicts,
update, apply, lastapplied, untracked (stripped and reset fields), useragent.
"""

from kybernetes.api.fieldmanager.apply import apply
from kybernetes.api.fieldmanager.fieldset import FieldSet, path_string
from kybernetes.api.fieldmanager.lastapplied import LAST_APPLIED
from kybernetes.api.fieldmanager.managers import store
from kybernetes.api.fieldmanager.shape import shape_of
from kybernetes.api.fieldmanager.untracked import reset_fields
from kybernetes.api.fieldmanager.update import managed_fields_for_update, update_managed_fields
from kybernetes.api.fieldmanager.useragent import manager_or_user_agent, prefix_from_user_agent
from kybernetes.api.fieldmanager.walk import value_set

__all__ = [
    "LAST_APPLIED",
    "FieldSet",
    "apply",
    "managed_fields_for_update",
    "manager_or_user_agent",
    "path_string",
    "prefix_from_user_agent",
    "reset_fields",
    "shape_of",
    "store",
    "update_managed_fields",
    "value_set",
]
