"""A child process for the crash tests: opens the FE, prints READY once its tables exist, then runs
seeded random statements, printing `START <json>` before and `ACK <json>` after each one (flushed),
until the parent kills it with SIGKILL."""

import json
import random
import sys

from cairn.api import load_config
from cairn.fe.frontend import Frontend
from cairn.server.session import Session

# Two partitions: an insert's rows land in both, so a torn commit would show half a batch.
T0_DDL = ("CREATE TABLE IF NOT EXISTS t0 (batch INT, n INT, day DATE) "
          "PARTITION BY RANGE(day) (PARTITION p1 VALUES LESS THAN ('2024-01-01'), "
          "PARTITION p2 VALUES LESS THAN ('2025-01-01')) DISTRIBUTED BY HASH(n) BUCKETS 4")


def main() -> None:
    values = json.loads(sys.argv[1])
    seed = int(sys.argv[2])
    rng = random.Random(seed)
    session = Session(Frontend.open(load_config(None, **values)))
    session.execute("CREATE DATABASE IF NOT EXISTS crash")
    session.database = "crash"
    tables = ["t0"]
    session.execute(T0_DDL)
    print("READY", flush=True)
    for number in range(10_000):
        batch = seed * 100_000 + number
        if rng.random() < 0.1:
            name = f"t{len(tables)}_{seed}"
            statement = {"kind": "create", "table": name}
            sql = (f"CREATE TABLE {name} (batch INT, n INT, day DATE) PARTITION BY RANGE(day) "
                   "(PARTITION p1 VALUES LESS THAN ('2025-01-01')) DISTRIBUTED BY HASH(n) BUCKETS 2")
        else:
            table = rng.choice(tables)
            rows = rng.randint(1, 50)
            statement = {"kind": "insert", "table": table, "batch": batch, "rows": rows}
            values_sql = ", ".join(f"({batch}, {i}, '{2023 + i % 2}-06-01')" for i in range(rows))
            sql = f"INSERT INTO {table} VALUES {values_sql}"
        print("START " + json.dumps(statement), flush=True)
        session.execute(sql)
        if statement["kind"] == "create":
            tables.append(statement["table"])
        print("ACK " + json.dumps(statement), flush=True)


if __name__ == "__main__":
    main()
