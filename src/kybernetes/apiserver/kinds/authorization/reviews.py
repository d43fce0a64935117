"""The four access reviews: create-only and never stored. The definitions put them in
discovery and OpenAPI; :mod:`kybernetes.apiserver.authz.access_review`'s own routes
answer the POSTs (more specific than the generic /apis route, so matched first)."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.api.resources import Resource
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT


def _review(resource: Resource) -> KindDefinition:
    name = f"io.k8s.api.authorization.v1.{resource.kind}"
    return KindDefinition(resource=resource, schema=builtin_schema(name), openapi_name=name,
                          defaults=None, validate=None, strategy=DEFAULT,
                          table=tables.DEFAULT, field_selectors={})


SUBJECT_ACCESS_REVIEW = _review(r.SUBJECT_ACCESS_REVIEWS)
SELF_SUBJECT_ACCESS_REVIEW = _review(r.SELF_SUBJECT_ACCESS_REVIEWS)
LOCAL_SUBJECT_ACCESS_REVIEW = _review(r.LOCAL_SUBJECT_ACCESS_REVIEWS)
SELF_SUBJECT_RULES_REVIEW = _review(r.SELF_SUBJECT_RULES_REVIEWS)
DEFINITIONS = (SELF_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_RULES_REVIEW, SUBJECT_ACCESS_REVIEW,
               LOCAL_SUBJECT_ACCESS_REVIEW)
