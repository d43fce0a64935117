"""The ClusterRole aggregation controller: an aggregated ClusterRole holds the rules of
every ClusterRole its aggregationRule selects.

Follows Kubernetes' pkg/controller/clusterroleaggregation: any ClusterRole that
is added, changed or deleted may change what some aggregated role selects, so
every ClusterRole with an aggregationRule is queued; a sync works the rules out
from the informer's cache (api/rbac_aggregation.py: per selector, the matching
roles by name, deduplicated) and writes them only when they differ. A conflict
(someone wrote the role meanwhile) is retried by the work queue.
"""

from __future__ import annotations

import logging

from kybernetes.api import errors
from kybernetes.api.rbac_aggregation import aggregated_rules, same_rules, selectors
from kybernetes.api.resources import CLUSTER_ROLES
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, deep_copy, meta

log = logging.getLogger("kybernetes.controllers.clusterrole_aggregation")


class ClusterRoleAggregationController(Controller):
    """Keeps each aggregated ClusterRole's rules the union of the roles it selects."""

    name = "clusterrole-aggregation"
    component = "clusterrole-aggregation-controller"
    default_workers = 1

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.roles = informers.get(CLUSTER_ROLES)
        self.roles.add_handler(on_add=self._changed, on_update=lambda o, n: self._changed(n),
                               on_delete=self._changed)

    def _changed(self, _role: Obj) -> None:
        for role in self.roles.list():
            if selectors(role) is not None:
                self.enqueue(role)

    async def sync(self, key: str) -> None:
        role = self.roles.get(key)
        if role is None or selectors(role) is None:
            return
        rules = aggregated_rules(role, self.roles.list())
        if same_rules(rules, role.get("rules")):
            return
        updated = deep_copy(role)
        updated["rules"] = rules
        try:
            await self.client.update(CLUSTER_ROLES, updated)
        except errors.NotFound:
            return  # deleted meanwhile
        log.info("aggregated cluster role", extra={"role": meta(role).get("name"),
                                                   "rules": len(rules)})
