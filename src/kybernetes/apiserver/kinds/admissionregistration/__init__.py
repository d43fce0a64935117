"""admissionregistration.k8s.io/v1: what configures dynamic admission (webhooks, policies)."""
