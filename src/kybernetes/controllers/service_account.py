"""The ServiceAccount controller: every namespace has a `default` ServiceAccount.

Follows Kubernetes' `pkg/controller/serviceaccount/serviceaccounts_controller.go`:
the work item is a namespace. A namespace that is added or changes is synced,
and so is the namespace of a ServiceAccount that is deleted, so a deleted
`default` comes back. A sync creates each missing account from the cache's
view; AlreadyExists means the cache was behind, and a namespace that is being
deleted is left alone (the API server refuses creates there anyway).
"""

from __future__ import annotations

import logging

from kybernetes.api import errors
from kybernetes.api.meta import is_being_deleted
from kybernetes.api.resources import NAMESPACES, SERVICE_ACCOUNTS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, meta

log = logging.getLogger("kybernetes.controllers.service_account")

MANAGED_ACCOUNTS = ("default",)


class ServiceAccountController(Controller):
    """Creates the managed ServiceAccounts (`default`) in every active namespace."""

    name = "serviceaccount"
    component = "service-account-controller"
    default_workers = 1

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.namespaces = informers.get(NAMESPACES)
        self.accounts = informers.get(SERVICE_ACCOUNTS)
        self.namespaces.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n))
        self.accounts.add_handler(on_delete=self._account_deleted)

    def _account_deleted(self, account: Obj) -> None:
        if meta(account).get("name") in MANAGED_ACCOUNTS:
            self.queue.add(meta(account).get("namespace", ""))

    async def sync(self, key: str) -> None:
        namespace = self.namespaces.get(key)
        if namespace is None or is_being_deleted(namespace):
            return
        for name in MANAGED_ACCOUNTS:
            if self.accounts.get(f"{key}/{name}") is None:
                await self._create(key, name)

    async def _create(self, namespace: str, name: str) -> None:
        account = {"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": name, "namespace": namespace}}
        try:
            await self.client.create(SERVICE_ACCOUNTS, account)
        except (errors.AlreadyExists, errors.NotFound, errors.Forbidden):
            # Already there, or the namespace is gone or terminating: nothing to do.
            return
        log.info("created service account", extra={"namespace": namespace, "account": name})
