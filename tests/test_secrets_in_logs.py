"""Secrets never reach the log, SHOW/DESC output or errors, even at DEBUG and with \\ and quotes in them."""

from __future__ import annotations

import re
from pathlib import Path

import pymysql
import pytest

from cairn.secrets import MASK, mask_values, redact, register_secret
from cairn.sql.redaction import loggable
from conftest import S3_REGION, make_bucket
from fe_process import start_fe, start_local_fe


def _literal(value: str) -> str:
    """`value` as a SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


# Each secret has a distinctive core (the canary) and a backslash or a quote around it.
SECRETS = {
    "create_user": "pw\\CanaryCreate'1",
    "alter_user": "pw'CanaryAlter\\2",
    "set_password": "pw\\\\CanarySet''3",
    "set_own_password": "pw\"CanaryOwn\\4",
    "access_key": "AKIA\\CanaryAccess'5",
    "secret_key": "sk'CanarySecret\\6",
    "new_secret_key": "sk\\CanaryRotated'7",
    "bad_volume_key": "sk'CanaryBadVolume\\8",
    "syntax_error": "pw\\CanarySyntax'9",
}
CANARIES = [re.search(r"Canary[A-Za-z]+", value).group() for value in SECRETS.values()]  # type: ignore[union-attr]


def test_no_secret_reaches_the_log_show_desc_or_errors_at_debug(tmp_path: Path, moto_endpoint: str) -> None:
    values = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage"),
              "sys_log_level": "DEBUG"}
    fe = start_fe(tmp_path, values)
    bucket = make_bucket(moto_endpoint)
    answers: list[str] = []
    connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True)
    try:
        with connection.cursor() as cursor:
            def run(sql: str, fails: bool = False) -> None:
                if fails:
                    with pytest.raises(pymysql.err.MySQLError) as error:
                        cursor.execute(sql)
                    answers.append(str(error.value))
                else:
                    cursor.execute(sql)
                    answers.append(repr(cursor.fetchall()))

            s = SECRETS
            run(f"CREATE USER alice IDENTIFIED BY {_literal(s['create_user'])}")
            run(f"ALTER USER alice IDENTIFIED BY {_literal(s['alter_user'])}")
            run(f"SET PASSWORD FOR alice = PASSWORD({_literal(s['set_password'])})")
            run(f"CREATE USER bob IDENTIFIED BY {_literal(s['syntax_error'])} {_literal(s['syntax_error'])}",
                fails=True)
            volume = (f"TYPE = S3 LOCATIONS = ('s3://{bucket}/v') PROPERTIES ('aws.s3.region' = '{S3_REGION}', "
                      f"'aws.s3.endpoint' = '{moto_endpoint}', 'aws.s3.access_key' = {_literal(s['access_key'])}, "
                      f"'aws.s3.secret_key' = {_literal(s['secret_key'])})")
            run(f"CREATE STORAGE VOLUME vault {volume}")
            run(f"ALTER STORAGE VOLUME vault SET ('aws.s3.secret_key' = {_literal(s['new_secret_key'])})")
            run("CREATE STORAGE VOLUME broken TYPE = S3 LOCATIONS = ('s3://no-such-bucket/x') PROPERTIES ("
                f"'aws.s3.region' = '{S3_REGION}', 'aws.s3.endpoint' = 'http://127.0.0.1:1', "
                f"'aws.s3.access_key' = 'AKIAX', 'aws.s3.secret_key' = {_literal(s['bad_volume_key'])})", fails=True)
            run("SHOW STORAGE VOLUMES")
            run("DESC STORAGE VOLUME vault")
            run("SHOW GRANTS FOR alice")
        # The password really is the one with a quote and backslashes in it.
        alice = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="alice", password=s["set_password"])
        with alice.cursor() as cursor:
            cursor.execute(f"SET PASSWORD = PASSWORD({_literal(s['set_own_password'])})")
        alice.close()
        pymysql.connect(host="127.0.0.1", port=fe.query_port, user="alice", password=s["set_own_password"]).close()
    finally:
        connection.close()
        fe.stop()
    log = fe.log.read_text()
    assert "statement: CREATE STORAGE VOLUME vault" in log and MASK in log  # statements are logged, masked
    texts = {"log": log, "answers": "\n".join(answers)}
    hits = [(where, canary) for where, text in texts.items() for canary in CANARIES if canary in text]
    assert hits == []


@pytest.mark.parametrize("written", [
    "key=k\\Canary'Reg", "'k\\\\Canary''Reg'", "'k\\\\Canary\\'Reg'", '"k\\\\Canary\'Reg"',
])
def test_a_registered_secret_with_a_backslash_or_quote_is_masked_as_written(written: str) -> None:
    register_secret("k\\Canary'Reg")
    assert "Canary" not in redact(f"failed: {written}")


@pytest.mark.parametrize("sql, kept", [
    ("CREATE USER u IDENTIFIED BY 'p\\\\Canary''x'", "CREATE USER u IDENTIFIED BY"),
    ("SET PASSWORD = PASSWORD(\"p\\\"Canary\")", "SET PASSWORD = PASSWORD("),
    ("ALTER STORAGE VOLUME v SET ('aws.s3.access_key' = 'Canary', 'aws.s3.region' = 'eu-1')", "'eu-1'"),
    ("CREATE USER u IDENTIFIED BY 'Canary' and then some", "and then some"),
    ("CREATE USER u IDENTIFIED BY 'Canary", "CREATE USER u IDENTIFIED BY"),
])
def test_statements_are_logged_with_their_secrets_masked(sql: str, kept: str) -> None:
    text = loggable(sql)
    assert "Canary" not in text and kept in text and MASK in text


def test_a_statement_without_secrets_is_logged_as_it_is() -> None:
    sql = "SELECT 'Canary' AS x FROM t WHERE name = 'bob'"
    assert loggable(sql) == sql


@pytest.mark.parametrize("text, secret, expected", [
    # A one-character password quoted in an error beside a line and a column number.
    ("Getting syntax error at line 1, column 10. Detail message: near IDENTIFIED BY '1'", "1",
     f"Getting syntax error at line 1, column 10. Detail message: near IDENTIFIED BY '{MASK}'"),
    ("line 10: '10' is not allowed", "10", f"line 10: '{MASK}' is not allowed"),
    ("cut at IDENTIFIED BY 'ab", "ab", f"cut at IDENTIFIED BY '{MASK}"),
    # A short secret is masked where it stands alone, never inside a longer word or number.
    ("user 1234 has pw 1234, row 812345", "1234", f"user {MASK} has pw {MASK}, row 812345"),
    ("passwords: pass, password, passage", "pass", f"passwords: {MASK}, password, passage"),
    # A long one is masked wherever it appears, with its \\ and quotes as written.
    ("key=xyzk\\Canary'Regabc", "k\\Canary'Reg", f"key=xyz{MASK}abc"),
    ("near 'a\\\\b''c'", "a\\b'c", f"near '{MASK}'"),
])
def test_only_the_secret_itself_is_masked(text: str, secret: str, expected: str) -> None:
    assert mask_values(text, [secret]) == expected


def test_a_short_literal_never_masks_the_line_number_of_a_syntax_error(tmp_path: Path) -> None:
    fe = start_local_fe(tmp_path)
    try:
        connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True)
        with connection.cursor() as cursor, pytest.raises(pymysql.err.MySQLError) as error:
            cursor.execute("SELECT '1' FROM t WHERE")  # does not parse: its literals are masked
        connection.close()
    finally:
        fe.stop()
    message = error.value.args[1]
    assert "at line 1, column 23" in message and MASK not in message.split("Detail message")[0], message
