"""Kubernetes' streaming transports (SPDY/3.1, raw HTTP upgrades), shared by the API
server's kubelet proxy and the kubelet's exec, attach and port-forward."""
