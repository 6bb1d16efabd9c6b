"""Privilege checks: does a user hold a privilege on a database or table?"""

from __future__ import annotations

from cairn.auth.users import ROOT
from cairn.catalog.model import CatalogState
from cairn.errors import PrivilegeError

# The pseudo-privilege SHOW asks for: holding any privilege on the object (StarRocks' "ANY").
ANY = "ANY"


def can_see(state: CatalogState, user: str, database: str, table: str | None = None) -> bool:
    """True if `user` holds any privilege on `database`.`table`, or (without `table`) on the database
    or any table in it: what SHOW DATABASES, SHOW TABLES, SHOW COLUMNS and SHOW CREATE TABLE reveal."""
    if user == ROOT:
        return True
    record = state.users.get(user)
    if record is None:
        return False
    for grant in record.grants:
        if grant.database == "*":
            return True
        if grant.database == database and (table is None or grant.table in ("*", table)):
            return True
    return False


def has_privilege(state: CatalogState, user: str, privilege: str, database: str = "*", table: str = "*") -> bool:
    """True if `user` holds `privilege` (or ALL) on `database`.`table`, through a grant on that
    table, on the whole database, or on *.*. root holds everything. `ANY` asks `can_see`."""
    if user == ROOT:
        return True
    if privilege == ANY:
        return can_see(state, user, database, None if table == "*" else table)
    record = state.users.get(user)
    if record is None:
        return False
    for grant in record.grants:
        if privilege not in grant.privileges and "ALL" not in grant.privileges:
            continue
        if grant.database == "*" or (grant.database == database and grant.table in ("*", table)):
            return True
    return False


def require(state: CatalogState, user: str, privilege: str, database: str = "*", table: str = "*") -> None:
    """Raise PrivilegeError (1142) unless `user` holds `privilege` on `database`.`table`."""
    if has_privilege(state, user, privilege, database, table):
        return
    if database == "*":
        target = "the cluster (*.*)"
    elif table == "*":
        target = f"DATABASE {database}"
    else:
        target = f"TABLE {database}.{table}"
    raise PrivilegeError(f"Access denied; you need (at least one of) the {privilege} privilege(s) on {target} "
                         f"for this operation. User: '{user}'@'%'.")
