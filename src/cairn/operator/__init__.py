"""The Kubernetes operator for `StarRocksCluster` resources (`cairn operator`).

`spec.py` and `status.py` model the custom resource, `observed.py` what the operator sees of the
cluster, `recovery.py` the disaster-recovery state machine, `objects.py` the objects it wants; all
of these are pure. `handlers.py` is the kopf side: it reads, applies and patches.
"""
