"""One Protocol per verb of :class:`~kybernetes.client.rest.ApiClient`.

As client-go's Getter, Lister, Watcher … interfaces: a component (or a client
part such as the informer) states the verbs it uses by composing these, so it
depends on a few methods rather than on the whole client, and a test can hand
it a fake with just those. Each signature is the client's own, written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from kybernetes.api.resources import Resource
from kybernetes.client.rest import Watch

Obj = dict[str, Any]


class Getter(Protocol):
    async def get(self, resource: Resource, name: str, *, namespace: str | None = None,
                  subresource: str | None = None) -> Obj: ...


class Creator(Protocol):
    async def create(self, resource: Resource, obj: Obj, *,
                     namespace: str | None = None) -> Obj: ...


class Updater(Protocol):
    async def update(self, resource: Resource, obj: Obj) -> Obj: ...


class Patcher(Protocol):
    async def patch(self, resource: Resource, name: str, body: Any, *,
                    namespace: str | None = None, patch_type: str = "merge",
                    subresource: str | None = None,
                    field_manager: str | None = None) -> Obj: ...


class Deleter(Protocol):
    async def delete(self, resource: Resource, name: str, *, namespace: str | None = None,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str | None = None,
                     preconditions: Mapping[str, str | None] | None = None) -> Obj: ...


class SubresourceCreator(Protocol):
    async def create_subresource(self, resource: Resource, name: str, subresource: str,
                                 body: Obj, *, namespace: str | None = None) -> Obj: ...


class ListerWatcher(Protocol):
    """What an informer needs: whole lists, then a watch from their resourceVersion."""

    async def list_all(self, resource: Resource, *, page_size: int = 500,
                       **kwargs: Any) -> Obj: ...

    def watch(self, resource: Resource, *, namespace: str | None = None,
              resource_version: str | None = None, label_selector: str | None = None,
              field_selector: str | None = None, allow_bookmarks: bool = True,
              timeout_seconds: int | None = None) -> Watch: ...


class EventWriter(Creator, Patcher, Protocol):
    """What an event recorder needs: create an Event, patch the count of a repeat."""
