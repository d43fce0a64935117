"""events.k8s.io/v1 Events: kube's newer view of the same Events core/v1 serves (stored
as core/v1, so either API reads what the other wrote), which client-go's
`tools/events` recorders write.

The fields are renamed: regarding/note/reportingController/deprecated* here are
involvedObject/message/reportingComponent/source, firstTimestamp, lastTimestamp and
count in core/v1. A create through this API must be a new-style Event (eventTime,
reportingController, reportingInstance, action and reason set; none of the deprecated
fields), as kube's ValidateEventCreate requires of events.k8s.io/v1."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api import validation
from kybernetes.api.fields import field_getter
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.core import event as core_event
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema

Obj = dict[str, Any]
# events.k8s.io/v1 name → core/v1 name (the rest are the same in both)
_RENAMED = {"regarding": "involvedObject", "note": "message",
            "reportingController": "reportingComponent", "deprecatedSource": "source",
            "deprecatedFirstTimestamp": "firstTimestamp",
            "deprecatedLastTimestamp": "lastTimestamp", "deprecatedCount": "count"}
_BACK = {core: events for events, core in _RENAMED.items()}


def _renamed(obj: Obj, names: dict[str, str], api_version: str) -> Obj:
    return {**{names.get(k, k): v for k, v in obj.items()}, "apiVersion": api_version,
            "kind": "Event"}


class Conversion:
    """events.k8s.io/v1 <-> the stored core/v1 Event."""

    def to_storage(self, obj: Obj, old: Obj | None) -> Obj:
        if obj.get("apiVersion") == r.EVENTS.api_version:
            return obj
        return _renamed(obj, _RENAMED, r.EVENTS.api_version)

    def from_storage(self, obj: Obj) -> Obj:
        return _renamed(obj, _BACK, r.EVENTS_V1.api_version)


_CONVERSION = Conversion()


def _printer(obj: Obj, now: _dt.datetime) -> list[Any]:
    return tables.EVENT.printer(_CONVERSION.to_storage(obj, None), now)


DEFINITION = KindDefinition(
    resource=r.EVENTS_V1,
    schema=builtin_schema("io.k8s.api.events.v1.Event"),
    openapi_name="io.k8s.api.events.v1.Event",
    defaults=None,
    validate=validation.validate_events_v1_event,  # on the object as core/v1 holds it
    strategy=core_event.DEFINITION.strategy,
    table=TableSpec(tables.EVENT.columns, _printer, descriptions=tables.EVENT.descriptions),
    # kube's field label conversions for events.k8s.io/v1, read from the stored object
    field_selectors={
        **{f"regarding.{f}": field_getter("involvedObject", f) for f in (
            "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": field_getter("reason"),
        "reportingController": field_getter("reportingComponent"),
        "type": field_getter("type"),
    },
    storage_version=r.EVENTS.api_version,
    convert=_CONVERSION,
)
