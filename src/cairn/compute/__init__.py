"""Compute work between an FE and its compute nodes: the requests, node registry and dispatch."""
