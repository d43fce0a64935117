"""PodMetrics: read-only (get, list), answered from the kubelets' summaries by
`metrics_api.py`'s routes; the definition puts them in discovery and OpenAPI."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.kinds.metrics.schema import pod_metrics
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.POD_METRICS,
    schema=pod_metrics,
    openapi_name="io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics",
    defaults=None,
    validate=None,
    strategy=DEFAULT,
    table=tables.DEFAULT,
    field_selectors={},
    # never stored; a prefix of its own keeps it apart from core pods (encryption config)
    storage_prefix="/registry/metrics.k8s.io/pods/",
)
