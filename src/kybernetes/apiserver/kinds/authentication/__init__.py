"""authentication.k8s.io: kinds that are answered, never stored."""
