"""TokenReviews: create-only and never stored; the definition puts them in discovery
and OpenAPI, and `token_review.py`'s own route answers the POST (it is more
specific than the generic /apis route, so it is matched first)."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.TOKEN_REVIEWS,
    schema=builtin_schema("io.k8s.api.authentication.v1.TokenReview"),
    openapi_name="io.k8s.api.authentication.v1.TokenReview",
    defaults=None,
    validate=None,
    strategy=DEFAULT,
    table=tables.DEFAULT,
    field_selectors={},
)
