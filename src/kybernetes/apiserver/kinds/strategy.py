"""A kind's strategy: what its create, update and delete may change.

Kubernetes gives every resource a strategy (``PrepareForCreate``,
``PrepareForUpdate``, ``GetResetFields``, graceful deletion). The generic steps
live in :mod:`kybernetes.apiserver.strategy`; this base class holds the choices
a kind makes, with Kubernetes' defaults, and a kind overrides only what differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kybernetes.apiserver.authn import User

Obj = dict[str, Any]


class Strategy:
    """The defaults: no generation, status kept on create, no grace, no extra finalizers."""

    # metadata.generation starts at 1 and grows when the spec changes.
    tracks_generation: bool = False
    # A create resets status to `initial_status` (None: no status at all). Kinds
    # whose creator legitimately sends status (a kubelet registering its Node) keep it.
    resets_status_on_create: bool = False
    initial_status: Obj | None = None
    # Deleted gracefully: whoever runs the object (a kubelet) finishes the delete.
    graceful_deletion: bool = False
    # Subresources that write status only (a CSR's approval too): the object is the
    # stored one with the status sent, then prepare_for_subresource_update.
    status_subresources: tuple[str, ...] = ("status",)
    # The propagation of a delete that names none (DefaultGarbageCollectionPolicy):
    # None is Background; batch/v1 Jobs keep their pods ("Orphan"), with `delete_warning`.
    default_propagation: str | None = None
    delete_warning: str = ""

    def prepare_for_create(self, obj: Obj) -> None:
        """Kind-specific changes to a new object (after the generic ones)."""

    def prepare_for_create_by(self, obj: Obj, user: User) -> None:
        """Changes that depend on who creates (a CSR records its requester)."""

    def prepare_for_subresource_update(self, subresource: str, new: Obj, old: Obj) -> None:
        """Kind-specific changes to a write through one of `status_subresources`."""

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Kind-specific changes to an update of the main resource (after the generic ones)."""

    def spec_changed(self, new: Obj, old: Obj) -> bool:
        """Whether an update bumps metadata.generation (when tracked)."""
        return new.get("spec") != old.get("spec")

    def delete_grace(self, obj: Obj, requested: int | None) -> int:
        """Seconds a delete waits (a pod its kubelet stops); 0 deletes at once."""
        return 0

    def finalizers_on_delete(self, obj: Obj) -> list[str]:
        """Finalizers the first delete adds (a CRD's cleanup of its custom resources)."""
        return []

    def termination_finalizers(self, obj: Obj) -> list[str]:
        """Finalizers outside metadata that hold a deleted object (a namespace's spec)."""
        return []

    def mark_terminating(self, obj: Obj) -> None:
        """Set what a pending deletion shows (a namespace's Terminating phase)."""

    def reset_fields(self, subresource: str | None, has_status: bool) -> tuple[tuple[str, ...],
                                                                                 ...]:
        """Top-level paths this endpoint resets whatever the client sends (GetResetFields):
        the main resource of a kind with status never changes status, and the status
        subresource changes nothing but status."""
        if subresource in self.status_subresources:
            return (("spec",), ("metadata",))
        return (("status",),) if has_status else ()


class StatusStrategy(Strategy):
    """A kind with a status subresource whose status starts as `initial_status`."""

    resets_status_on_create = True

    def __init__(self, initial_status: Obj | None = None, *,
                 tracks_generation: bool = False) -> None:
        self.initial_status = initial_status
        self.tracks_generation = tracks_generation


class GenerationStrategy(Strategy):
    """The defaults, with metadata.generation tracking spec changes."""

    tracks_generation = True


DEFAULT = Strategy()
TRACKS_GENERATION = GenerationStrategy()
