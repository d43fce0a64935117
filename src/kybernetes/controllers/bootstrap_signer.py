"""The bootstrap signer: a JWS of kube-public/cluster-info per signing bootstrap token.

As Kubernetes' pkg/controller/bootstrap/bootstrapsigner.go: one work item (the
ConfigMap), poked by any change of cluster-info or of a bootstrap token Secret in
kube-system. A sync signs cluster-info's ``kubeconfig`` with every token Secret fit
for signing (:func:`~kybernetes.api.bootstrap_tokens.signing_token`: unexpired,
``usage-bootstrap-signing``) as ``jws-kubeconfig-<id>`` and drops the signatures of
tokens that are gone, expired or no longer for signing; it writes only when a
signature changed. A joining machine checks the one of its token
(:mod:`kybernetes.api.bootstrap_jws`). Expiry itself wakes the signer too: a sync
re-queues itself for the moment the next token expires (kube leaves that to the
token cleaner's delete or a resync).
"""

from __future__ import annotations

import datetime as _dt
import logging

from kybernetes.api import bootstrap_jws as jws
from kybernetes.api import bootstrap_tokens as bt
from kybernetes.api import errors
from kybernetes.api.resources import CONFIGMAPS, SECRETS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, deep_copy, meta

log = logging.getLogger("kybernetes.controllers.bootstrap_signer")

KEY = f"{bt.PUBLIC_NAMESPACE}/{bt.CLUSTER_INFO}"


class BootstrapSigner(Controller):
    """Keeps cluster-info's `jws-kubeconfig-<id>` keys equal to the valid tokens'."""

    name = "bootstrapsigner"
    component = "bootstrap-signer"
    default_workers = 1

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.configmaps = informers.get(CONFIGMAPS)
        self.secrets = informers.get(SECRETS)
        self.configmaps.add_handler(on_add=self._configmap, on_update=lambda o, n:
                                    self._configmap(n))
        poke = self._secret
        self.secrets.add_handler(on_add=poke, on_update=lambda o, n: poke(n), on_delete=poke)

    def _configmap(self, configmap: Obj) -> None:
        if f"{meta(configmap).get('namespace')}/{meta(configmap).get('name')}" == KEY:
            self.queue.add(KEY)

    def _secret(self, secret: Obj) -> None:
        if secret.get("type") == bt.SECRET_TYPE and meta(secret).get("namespace") == bt.NAMESPACE:
            self.queue.add(KEY)

    def tokens(self, now: _dt.datetime) -> dict[str, str]:
        """token id -> token secret of every Secret fit for signing (the first of a
        duplicated id wins, as in kube)."""
        found: dict[str, str] = {}
        for secret in self.secrets.list(bt.NAMESPACE):
            token = bt.signing_token(secret, now)
            if token is not None:
                found.setdefault(*token)
        return found

    async def sync(self, key: str) -> None:
        current = self.configmaps.get(KEY)
        if current is None:
            return
        content = (current.get("data") or {}).get(jws.KUBECONFIG_KEY)
        if content is None:
            log.debug("no kubeconfig key in cluster-info: nothing to sign")
            return
        now = _dt.datetime.now(_dt.UTC)
        data = {k: v for k, v in (current.get("data") or {}).items()
                if not k.startswith(jws.SIGNATURE_PREFIX)}
        for token_id, token_secret in self.tokens(now).items():
            data[jws.SIGNATURE_PREFIX + token_id] = jws.detached_signature(
                content, token_id, token_secret)
        self._wake_at_next_expiry(now)
        if data == (current.get("data") or {}):
            return
        updated = deep_copy(current)
        updated["data"] = data
        try:
            await self.client.update(CONFIGMAPS, updated)
        except (errors.Conflict, errors.NotFound):
            return  # a newer cluster-info is on its way to the informer and pokes again
        log.info("cluster-info signed", extra={"tokens": sum(
            k.startswith(jws.SIGNATURE_PREFIX) for k in data)})

    def _wake_at_next_expiry(self, now: _dt.datetime) -> None:
        left = [t for s in self.secrets.list(bt.NAMESPACE)
                if bt.signing_token(s, now) is not None
                and (t := bt.time_left(bt.secret_data(s), now)) is not None]
        if left:
            self.queue.add_after(KEY, min(left) + 0.5)
