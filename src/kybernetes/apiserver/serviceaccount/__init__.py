"""ServiceAccount tokens: the signing key, the JWTs, TokenRequest, their authenticator
and the OIDC discovery documents (Kubernetes' pkg/serviceaccount and
pkg/registry/core/serviceaccount/storage/token.go)."""
