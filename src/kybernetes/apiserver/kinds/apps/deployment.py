"""Deployments: generation tracks the spec; scalable by their label selector."""

from __future__ import annotations

from kybernetes.api import defaults, pod_validation
from kybernetes.api import resources as r
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.apps.replicaset import label_selector_text
from kybernetes.apiserver.kinds.definition import KindDefinition, ScaleSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy

DEFINITION = KindDefinition(
    resource=r.DEPLOYMENTS,
    schema=builtin_schema("io.k8s.api.apps.v1.Deployment"),
    openapi_name="io.k8s.api.apps.v1.Deployment",
    defaults=defaults.deployment_defaults,
    validate=lambda errs, obj, old: pod_validation.validate_apps(errs, obj, old, "deployment"),
    strategy=StatusStrategy({}, tracks_generation=True),
    table=tables.DEPLOYMENT,
    field_selectors={},
    scale=ScaleSpec(selector=label_selector_text),
)
