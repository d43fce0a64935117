"""Kind definitions (one module per kind, by group) and the live registry that serves them.

See docs/kinds.md for the picture and how to add a kind.
"""
