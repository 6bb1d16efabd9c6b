"""Users and privileges: stored hashed in the catalog, enforced on every statement."""

from __future__ import annotations

import pytest

from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError, PrivilegeError
from cairn.fe.frontend import Frontend
from cairn.server.session import Session

SETUP = """CREATE DATABASE sales; CREATE DATABASE hr;
CREATE TABLE sales.orders (id INT, amount INT) DISTRIBUTED BY HASH(id) BUCKETS 2;
CREATE TABLE sales.refunds (id INT) DISTRIBUTED BY HASH(id) BUCKETS 2;
CREATE TABLE hr.salaries (id INT, pay INT) DISTRIBUTED BY HASH(id) BUCKETS 2;
INSERT INTO sales.orders VALUES (1, 10); INSERT INTO hr.salaries VALUES (1, 100);
CREATE USER 'alice' IDENTIFIED BY 'a-pass'; CREATE USER bob IDENTIFIED BY 'b-pass';
"""

# (grant statements for the user, statement, allowed?)
MATRIX = [
    ([], "SELECT * FROM sales.orders", False),
    (["GRANT SELECT ON sales.* TO alice"], "SELECT * FROM sales.orders", True),
    (["GRANT SELECT ON sales.* TO alice"], "SELECT * FROM hr.salaries", False),
    (["GRANT SELECT ON sales.orders TO alice"], "SELECT * FROM sales.refunds", False),
    (["GRANT SELECT ON sales.orders TO alice"], "SELECT o.id FROM sales.orders o JOIN hr.salaries s ON o.id = s.id", False),
    (["GRANT SELECT ON *.* TO alice"], "SELECT o.id FROM sales.orders o JOIN hr.salaries s ON o.id = s.id", True),
    (["GRANT SELECT ON sales.* TO alice"], "INSERT INTO sales.orders VALUES (2, 20)", False),
    (["GRANT INSERT ON sales.orders TO alice"], "INSERT INTO sales.orders VALUES (2, 20)", True),
    (["GRANT INSERT ON sales.orders TO alice"], "INSERT INTO sales.orders SELECT * FROM hr.salaries", False),
    (["GRANT CREATE ON sales.* TO alice"], "CREATE TABLE sales.more (a INT)", True),
    (["GRANT CREATE ON sales.* TO alice"], "CREATE DATABASE other", False),
    (["GRANT CREATE ON *.* TO alice"], "CREATE DATABASE other", True),
    (["GRANT DROP ON sales.refunds TO alice"], "DROP TABLE sales.refunds", True),
    (["GRANT DROP ON sales.refunds TO alice"], "DROP TABLE sales.orders", False),
    (["GRANT ALTER ON sales.* TO alice"], "TRUNCATE TABLE sales.orders", False),
    (["GRANT ALL ON sales.* TO alice"], "TRUNCATE TABLE sales.orders", True),
    (["GRANT ALL ON sales.* TO alice"], "CREATE USER carol", False),
    (["GRANT ALL ON *.* TO alice"], "CREATE USER carol", True),
    (["GRANT ALL ON sales.* TO alice"], "CREATE STORAGE VOLUME v TYPE = LOCAL LOCATIONS = ('/tmp/x')", False),
    (["GRANT SELECT, INSERT ON sales.* TO alice", "REVOKE INSERT ON sales.* FROM alice"],
     "INSERT INTO sales.orders VALUES (3, 30)", False),
    (["GRANT SELECT, INSERT ON sales.* TO alice", "REVOKE INSERT ON sales.* FROM alice"],
     "SELECT count(*) FROM sales.orders", True),
    ([], "SET PASSWORD = PASSWORD('new-pass')", True),
    ([], "SET PASSWORD FOR bob = PASSWORD('new-pass')", False),
]


@pytest.mark.parametrize("grants, statement, allowed", MATRIX)
def test_privilege_matrix(session: Session, grants: list[str], statement: str, allowed: bool) -> None:
    session.execute_script(SETUP)
    for grant in grants:
        session.execute(grant)
    alice = Session(session.frontend, user="alice")
    if allowed:
        alice.execute(statement)
    else:
        position = session.frontend.position
        with pytest.raises(PrivilegeError) as caught:
            alice.execute(statement)
        assert caught.value.mysql_code == 1142
        assert session.frontend.position == position


def test_users_and_grants_survive_restart_and_passwords_are_hashed(fe_config: FeConfig) -> None:
    first = Frontend.open(fe_config)
    Session(first).execute_script(SETUP + "GRANT SELECT ON sales.* TO alice;")
    journal_text = b"".join(first.meta_store.get(i.key) for i in first.meta_store.list(first.keys.journal_prefix(1)))
    assert b"a-pass" not in journal_text
    first.close()
    second = Frontend.open(fe_config)
    grants = Session(second).execute("SHOW GRANTS FOR alice").rows()
    assert grants == [("'alice'@'%'", "default_catalog", "GRANT SELECT ON sales.* TO 'alice'@'%'")]
    assert Session(second, user="alice").execute("SELECT count(*) FROM sales.orders").rows() == [(1,)]
    second.close()


def test_user_statement_errors(session: Session) -> None:
    session.execute_script(SETUP)
    with pytest.raises(CairnError, match="already exists"):
        session.execute("CREATE USER alice")
    session.execute("CREATE USER IF NOT EXISTS alice")
    with pytest.raises(CairnError, match="does not exist"):
        session.execute("GRANT SELECT ON sales.* TO nobody")
    with pytest.raises(CairnError, match="Unknown database"):
        session.execute("GRANT SELECT ON nowhere.* TO alice")
    session.execute("DROP USER alice")
    with pytest.raises(CairnError, match="does not exist"):
        session.execute("DROP USER alice")
    session.execute("DROP USER IF EXISTS alice")


def test_information_schema_lists_only_what_a_user_may_see(session: Session) -> None:
    session.execute_script(SETUP + "GRANT SELECT ON sales.orders TO alice;")
    everything = session.execute("SELECT table_schema, table_name, table_rows FROM information_schema.tables "
                                 "ORDER BY 1, 2").rows()
    assert everything == [("hr", "salaries", 1), ("sales", "orders", 1), ("sales", "refunds", 0)]
    alice = Session(session.frontend, user="alice")
    assert alice.execute("SELECT table_name FROM information_schema.tables").rows() == [("orders",)]
    columns = session.execute("SELECT column_name, ordinal_position, data_type, column_type, is_nullable "
                              "FROM information_schema.columns WHERE table_name = 'orders'").rows()
    assert columns == [("id", 1, "int", "int(11)", "YES"), ("amount", 2, "int", "int(11)", "YES")]
    snapshots = session.execute("SELECT * FROM information_schema.cluster_snapshots")
    assert snapshots.columns == ["SNAPSHOT_NAME", "SNAPSHOT_TYPE", "CREATED_TIME", "FE_JOURNAL_ID",
                                 "STARMGR_JOURNAL_ID", "PROPERTIES", "STORAGE_VOLUME", "STORAGE_PATH"]
    jobs = session.execute("SELECT * FROM information_schema.cluster_snapshot_jobs")
    assert jobs.columns == ["SNAPSHOT_NAME", "JOB_ID", "CREATED_TIME", "FINISHED_TIME", "STATE", "DETAIL_INFO",
                            "ERROR_MESSAGE"]
    assert snapshots.rows() == [] and jobs.rows() == []


def _denied(user: Session, sql: str) -> None:
    with pytest.raises(PrivilegeError):
        user.execute(sql)


def test_show_answers_only_what_a_user_may_see(session: Session) -> None:
    session.execute_script(SETUP)
    alice = Session(session.frontend, user="alice")
    assert alice.execute("SHOW DATABASES").rows() == [("information_schema",)]
    for sql in ["SHOW TABLES FROM sales", "SHOW FULL TABLES FROM hr", "SHOW COLUMNS FROM sales.orders",
                "SHOW COLUMNS FROM orders FROM sales", "SHOW CREATE TABLE sales.orders", "SHOW CREATE TABLE hr.salaries",
                "SHOW PARTITIONS FROM sales.orders", "SHOW TABLES FROM nowhere", "SHOW CREATE TABLE nowhere.t"]:
        _denied(alice, sql)

    session.execute("GRANT SELECT ON sales.orders TO alice")
    assert alice.execute("SHOW DATABASES").rows() == [("information_schema",), ("sales",)]
    assert alice.execute("SHOW TABLES FROM sales").rows() == [("orders",)]
    alice.execute("USE sales")
    assert alice.execute("SHOW TABLES").rows() == [("orders",)]
    assert [row[0] for row in alice.execute("SHOW COLUMNS FROM orders").rows()] == ["id", "amount"]
    assert "CREATE TABLE `orders`" in alice.execute("SHOW CREATE TABLE sales.orders").rows()[0][1]
    for sql in ["SHOW COLUMNS FROM sales.refunds", "SHOW CREATE TABLE refunds", "SHOW TABLES FROM hr",
                "SHOW CREATE TABLE hr.salaries"]:
        _denied(alice, sql)

    session.execute("GRANT INSERT ON hr.* TO alice")
    assert alice.execute("SHOW DATABASES").rows() == [("hr",), ("information_schema",), ("sales",)]
    assert alice.execute("SHOW TABLES FROM hr").rows() == [("salaries",)]
    everything = session.execute("SHOW TABLES FROM sales").rows()
    assert everything == [("orders",), ("refunds",)]
