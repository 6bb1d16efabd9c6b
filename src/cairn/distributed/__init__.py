"""Distributed query execution (issue #14): Ray is the cluster runtime, DataFusion runs the plan's
fragments on every node.

- `runtime`: the engine cluster (Ray's head beside the FE, a worker node per CN), token-authenticated
  and bound to the cluster's network only;
- `session`: the DataFusion settings every fragment is planned and run with, and the tables and
  object stores a session is given;
- `plan_schema`, `splice`: what DataFusion's Python API lacks (a node's schema, replacing a
  sub-plan inside an encoded plan);
- `stages`: the physical plan cut into stages at its exchange boundaries;
- `worker`: what a task runs on a node; `runner`: the stages as Ray tasks;
- `query`: `DistributedQuery`, SQL over Parquet files in, an Arrow table out.
"""

import os

# Ray reads its authentication mode once, when it is imported, and rewrites loopback bootstrap
# addresses unless multi-node-on-one-host mode is off: both must be set before anything imports Ray,
# so they are set here, by the package every use of Ray in Cairn goes through (runtime.py).
os.environ["RAY_AUTH_MODE"] = "token"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
