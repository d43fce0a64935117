"""The client library every component uses to talk to the API server.

REST (:class:`ApiClient`), kubeconfig files, informers (list + watch caches),
the work queue and worker loop, leader election, and the event recorder.
Nothing here touches storage; everything goes through the API server.
"""

from kybernetes.client.events import EventRecorder
from kybernetes.client.informer import Informer, InformerFactory, object_key
from kybernetes.client.kubeconfig import KubeConfig, load_kubeconfig, write_kubeconfig
from kybernetes.client.leader import LeaderElector, LeadershipLost
from kybernetes.client.rest import ApiClient, Watch, WatchEvent
from kybernetes.client.worker import run_workers
from kybernetes.client.workqueue import WorkQueue

__all__ = [
    "ApiClient",
    "EventRecorder",
    "Informer",
    "InformerFactory",
    "KubeConfig",
    "LeaderElector",
    "LeadershipLost",
    "Watch",
    "WatchEvent",
    "WorkQueue",
    "load_kubeconfig",
    "object_key",
    "run_workers",
    "write_kubeconfig",
]
