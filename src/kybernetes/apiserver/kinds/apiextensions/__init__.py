"""Kinds of the apiextensions.k8s.io API group."""
