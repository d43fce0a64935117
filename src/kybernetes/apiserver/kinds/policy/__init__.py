"""Kinds of the policy API group."""
