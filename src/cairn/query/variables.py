"""Session and global variables, as `SELECT @@x` and `SHOW VARIABLES` see them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlglot import exp

from cairn import __version__
from cairn.errors import AnalysisError, UnsupportedError

# MySQL clients read these on connect; values follow StarRocks' answers.
DEFAULTS: dict[str, Any] = {
    "version": f"8.0.33-cairn-{__version__}",
    "version_comment": "Cairn",
    "autocommit": 1,
    "auto_increment_increment": 1,
    "character_set_client": "utf8mb4",
    "character_set_connection": "utf8mb4",
    "character_set_results": "utf8mb4",
    "character_set_server": "utf8mb4",
    "collation_connection": "utf8mb4_general_ci",
    "collation_server": "utf8mb4_general_ci",
    "init_connect": "",
    "interactive_timeout": 3600,
    "license": "Apache License 2.0",
    "lower_case_table_names": 0,
    "max_allowed_packet": 33554432,
    "net_buffer_length": 16384,
    "net_write_timeout": 60,
    "query_cache_size": 1048576,
    "query_cache_type": 0,
    "sql_mode": "ONLY_FULL_GROUP_BY",
    "sql_select_limit": 9223372036854775807,
    "system_time_zone": "UTC",
    "time_zone": "UTC",
    "transaction_isolation": "REPEATABLE-READ",
    "tx_isolation": "REPEATABLE-READ",
    "tx_read_only": 0,
    "transaction_read_only": 0,
    "wait_timeout": 28800,
    "query_timeout": 300,
    "language": "/starrocks/share/english/",
    "performance_schema": 0,
    # Cairn: 0 runs this session's queries on the existing path even when the FE runs the
    # distributed engine (cairn_distributed_engine in fe.conf); for comparing the two.
    "cairn_distributed_engine": 1,
    # StarRocks: the bytes one query may use on each node (0: no limit of its own). Over it, a
    # query spills where its operators can (aggregations, sorts) and otherwise fails with
    # "Memory of Query... exceed limit".
    "query_mem_limit": 0,
}


# Cairn computes every date and time in UTC; these spellings of the time zone mean UTC.
_UTC_ZONES = frozenset({"utc", "etc/utc", "gmt", "etc/gmt", "uct", "universal", "zulu", "z", "system"})
_ZERO_OFFSET = re.compile(r"[+-]?0{1,2}:00")


def check_honoured(name: str, value: object) -> None:
    """Refuse a session value Cairn would accept and then not act on (UnsupportedError): a time zone
    other than UTC, whose functions and partition keys Cairn would still compute in UTC, and a
    non-StarRocks `sql_dialect`, whose statements would run with StarRocks' meaning."""
    key = name.lower().removeprefix("session.").removeprefix("global.")
    text = str(value).strip()
    if key == "time_zone" and text.lower() not in _UTC_ZONES and not _ZERO_OFFSET.fullmatch(text):
        raise UnsupportedError(f"Getting analyzing error. Detail message: time_zone '{text}' is not supported yet: "
                               "Cairn computes dates and times in UTC.")
    if key == "sql_dialect" and text.lower() not in ("starrocks", ""):
        raise UnsupportedError(f"Getting analyzing error. Detail message: sql_dialect '{text}' is not supported "
                               "yet: Cairn reads StarRocks SQL only.")


def get_variable(variables: Mapping[str, Any], name: str) -> Any:
    """The value of `@@name` given a connection's own `variables` (its value first, then the
    default); None if unknown."""
    key = name.lower().removeprefix("session.").removeprefix("global.")
    if key in variables:
        return variables[key]
    return DEFAULTS.get(key)


def query_mem_limit(variables: Mapping[str, Any]) -> int:
    """The session's `query_mem_limit` in bytes (0: no limit). Raises AnalysisError for a value
    that is not a whole number of bytes, 0 or more."""
    value = get_variable(variables, "query_mem_limit")
    try:
        limit = int(str(value).strip())
    except ValueError:
        limit = -1
    if limit < 0:
        raise AnalysisError(f"Getting analyzing error. Detail message: query_mem_limit must be a number of bytes "
                            f"(0 for no limit), not '{value}'.")
    return limit


def hinted_variables(tree: exp.Expr, variables: Mapping[str, Any]) -> dict[str, Any]:
    """The session's `variables` as a query sees them: with its outermost SELECT's
    `/*+ SET_VAR(name = value) */` hints applied in order, the last one last (StarRocks'
    testLegacyGroupConcat: a second hint's sql_mode replaces the first's)."""
    seen = dict(variables)
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    hint = select.args.get("hint") if select is not None else None
    for call in hint.expressions if isinstance(hint, exp.Hint) else []:
        if not isinstance(call, exp.Anonymous) or call.name.lower() != "set_var":
            continue
        for setting in call.expressions:
            if isinstance(setting, exp.EQ) and isinstance(setting.this, exp.Column) \
                    and isinstance(setting.expression, exp.Literal):
                literal = setting.expression
                check_honoured(setting.this.name, literal.name)
                seen[setting.this.name.lower()] = literal.name if literal.is_string else int(literal.name) \
                    if literal.name.isdigit() else literal.name
    return seen
