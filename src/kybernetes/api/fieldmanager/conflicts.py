"""Apply conflicts, and the 409 Kubernetes answers them with (internal/conflict.go).

One conflict reads::

    Apply failed with 1 conflict: conflict with "kcm" using apps/v1: .spec.replicas

several are grouped by manager (managers sorted by their identifier)::

    Apply failed with 2 conflicts: conflicts with "a" using v1:
    - .data.x
    conflicts with "b":
    - .data.y

and `details.causes` carries one `FieldManagerConflict` per field.
"""

from __future__ import annotations

from dataclasses import dataclass

from kybernetes.api import errors
from kybernetes.api.fieldmanager.fieldset import FieldSet, Path, path_string
from kybernetes.api.fieldmanager.managers import Entry


@dataclass(frozen=True)
class FieldConflict:
    """One field that the applied config changes and another manager owns."""

    entry: Entry
    path: Path


class ApplyConflicts(Exception):
    """The conflicts of one apply, before they become a Status."""

    def __init__(self, conflicts: list[FieldConflict]) -> None:
        super().__init__(f"{len(conflicts)} apply conflicts")
        self.conflicts = conflicts

    def without(self, allowed: FieldSet) -> ApplyConflicts:
        return ApplyConflicts([c for c in self.conflicts if not allowed.has(c.path)])

    def paths(self) -> FieldSet:
        return FieldSet.from_paths([c.path for c in self.conflicts])


def find_conflicts(owned: list[tuple[Entry, FieldSet]], changed: FieldSet) -> list[FieldConflict]:
    """Every (manager, field) where a manager owns a changed field, in Kubernetes' order."""
    found: list[FieldConflict] = []
    for entry, overlap in sorted(
        ((e, s.intersection(changed)) for e, s in owned), key=lambda p: p[0].identifier()
    ):
        found.extend(FieldConflict(entry, path) for path in overlap)
    return found


def conflict_error(conflicts: list[FieldConflict]) -> errors.Conflict:
    """The 409 Conflict for these conflicts, worded as the Kubernetes API server words it."""
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {c.entry.describe()}",
            "field": path_string(c.path),
        }
        for c in conflicts
    ]
    return errors.Conflict(_message(conflicts), details={"causes": causes})


def _message(conflicts: list[FieldConflict]) -> str:
    if len(conflicts) == 1:
        only = conflicts[0]
        where = path_string(only.path)
        return f"Apply failed with 1 conflict: conflict with {only.entry.describe()}: {where}"
    by_manager: dict[str, list[FieldConflict]] = {}
    for conflict in conflicts:
        by_manager.setdefault(conflict.entry.identifier(), []).append(conflict)
    lines = []
    for identifier in sorted(by_manager):
        group = by_manager[identifier]
        lines.append(f"conflicts with {group[0].entry.describe()}:")
        lines.extend(f"- {path_string(c.path)}" for c in group)
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
