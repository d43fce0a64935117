"""Kinds of the coordination API group."""
