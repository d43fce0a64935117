"""kybernetes: a container cluster manager with the architecture of Kubernetes."""

__version__ = "0.1.0"
