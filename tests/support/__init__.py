"""Helpers the tests share: free ports, supervised child processes, clusters."""
