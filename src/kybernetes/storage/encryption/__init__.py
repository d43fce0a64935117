"""Encryption at rest, as kube-apiserver does it (k8s.io/apiserver/pkg/storage/value).

- :mod:`.providers`: the value transformers (aescbc, aesgcm, secretbox, identity)
  and the prefix chain that picks one by a stored value's ``k8s:enc:…`` prefix;
- :mod:`.config`: Kubernetes' EncryptionConfiguration file → a transformer per
  resource, and the default configuration a data directory gets on first start;
- :mod:`.store`: :class:`TransformingStore`, the Store wrapper through which every
  value the API server writes or reads passes.
"""

from kybernetes.storage.encryption.config import (
    ConfigError,
    ResourceTransformers,
    ensure_default_config,
    load_config,
    parse_config,
)
from kybernetes.storage.encryption.providers import Transformer, TransformError
from kybernetes.storage.encryption.store import TransformingStore, Unreadable

__all__ = [
    "ConfigError", "ResourceTransformers", "TransformError", "Transformer",
    "TransformingStore", "Unreadable", "ensure_default_config", "load_config",
    "parse_config",
]
