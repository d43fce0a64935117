"""Operators that end-to-end tests run against a cluster (real frameworks, real clients)."""
