"""The few errors a storage backend raises; the API server translates them once."""

from __future__ import annotations


class StorageError(Exception):
    """Base of every storage error."""


class CompactedError(StorageError):
    """The revision asked for has been compacted away (the API answers 410 Expired)."""

    def __init__(self, revision: int, compacted_revision: int) -> None:
        super().__init__(
            f"required revision {revision} has been compacted (oldest is {compacted_revision})"
        )
        self.revision = revision
        self.compacted_revision = compacted_revision


class FutureRevisionError(StorageError):
    """The revision asked for is newer than the store's current revision."""

    def __init__(self, revision: int, current_revision: int) -> None:
        super().__init__(f"required revision {revision} is a future revision "
                         f"(current is {current_revision})")
        self.revision = revision
        self.current_revision = current_revision


class StorageUnavailable(StorageError):
    """The backend cannot be reached or refused the request."""
