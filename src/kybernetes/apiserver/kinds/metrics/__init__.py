"""metrics.k8s.io: resource usage read from the kubelets, never stored
(metrics-server's API, served by the API server itself: see ``metrics_api.py``)."""
