"""The token cleaner: deletes expired bootstrap token Secrets in kube-system.

As Kubernetes' pkg/controller/bootstrap/tokencleaner.go: each bootstrap token
Secret (type ``bootstrap.kubernetes.io/token``) is looked at when added or updated;
one whose ``expiration`` has passed (or cannot be parsed) is deleted with its uid as
precondition (NotFound and Conflict are not errors: gone already, or a new Secret of
that name); one that expires later is looked at again then.
"""

from __future__ import annotations

import datetime as _dt
import logging

from kybernetes.api import bootstrap_tokens as bt
from kybernetes.api import errors
from kybernetes.api.resources import SECRETS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, meta

log = logging.getLogger("kybernetes.controllers.token_cleaner")


class TokenCleaner(Controller):
    """Removes bootstrap tokens once they expire."""

    name = "tokencleaner"
    component = "token-cleaner"
    default_workers = 1

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.secrets = informers.get(SECRETS)
        self.secrets.add_handler(on_add=self._secret, on_update=lambda o, n: self._secret(n))

    def _secret(self, secret: Obj) -> None:
        if secret.get("type") == bt.SECRET_TYPE and meta(secret).get("namespace") == bt.NAMESPACE:
            self.enqueue(secret)

    async def sync(self, key: str) -> None:
        secret = self.secrets.get(key)
        if secret is None or secret.get("type") != bt.SECRET_TYPE:
            return
        left = bt.time_left(bt.secret_data(secret), _dt.datetime.now(_dt.UTC))
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        uid = meta(secret).get("uid")
        try:
            await self.client.delete(SECRETS, meta(secret)["name"], namespace=bt.NAMESPACE,
                                     preconditions={"uid": uid} if uid else None)
        except (errors.NotFound, errors.Conflict):
            return
        log.info("expired bootstrap token deleted", extra={"secret": key})
