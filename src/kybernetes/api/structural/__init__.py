"""Structural schemas of CustomResourceDefinitions: check, validate, default, prune.

Pure logic for the API server's CRD machinery. A schema (the plain
`openAPIV3Schema` dict) is compiled once into a tree of nodes (node.py) that the
other modules walk: check.py refuses what apiextensions-apiserver refuses when a
CRD is written, validate.py gives the causes of a 422 on a custom resource,
defaults.py fills defaults and prune.py drops unknown fields.
"""
