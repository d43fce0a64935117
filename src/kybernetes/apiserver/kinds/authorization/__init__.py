"""authorization.k8s.io: the access reviews (create-only, never stored)."""
