"""Kinds of the core (legacy, "") API group."""
