"""Privilege checks: does a user hold a privilege on a database or table?"""

from __future__ import annotations

from cairn.auth.users import ROOT
from cairn.catalog.model import CatalogState
from cairn.errors import PrivilegeError


def has_privilege(state: CatalogState, user: str, privilege: str, database: str = "*", table: str = "*") -> bool:
    """True if `user` holds `privilege` (or ALL) on `database`.`table`, through a grant on that
    table, on the whole database, or on *.*. root holds everything."""
    if user == ROOT:
        return True
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
