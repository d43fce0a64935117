"""storage.k8s.io kinds."""
