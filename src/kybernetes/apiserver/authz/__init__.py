"""Authorization: may this user do this? (attributes, the authorizer chain, RBAC, Node)."""
