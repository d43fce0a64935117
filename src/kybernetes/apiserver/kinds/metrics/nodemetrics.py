"""NodeMetrics: read-only (get, list), answered from the kubelets' summaries by
`metrics_api.py`'s routes; the definition puts them in discovery and OpenAPI."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.kinds.metrics.schema import node_metrics
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.NODE_METRICS,
    schema=node_metrics,
    openapi_name="io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics",
    defaults=None,
    validate=None,
    strategy=DEFAULT,
    table=tables.DEFAULT,
    field_selectors={},
    # never stored; a prefix of its own keeps it apart from core nodes (encryption config)
    storage_prefix="/registry/metrics.k8s.io/nodes/",
)
