"""Kinds of the apps API group."""
