"""User and privilege statements: CREATE / ALTER / DROP USER, SET PASSWORD, GRANT, REVOKE, SHOW GRANTS."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from cairn.auth.users import ROOT, native_password_hash
from cairn.catalog.catalog import Catalog
from cairn.catalog.model import Grant, UserRecord
from cairn.catalog.user_ops import CreateUser, DropUser, GrantPrivileges, RevokePrivileges, SetUserPassword
from cairn.errors import AnalysisError, CairnError, NoDatabaseSelectedError, UnknownTableError
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import VirtualTables
from cairn.sql.refusals import not_supported
from cairn.sql.registry import Requirement, StatementRegistry, cluster_admin
from cairn.sql.result import ResultSet
from cairn.sql.user_grammar import (
    SYSTEM_PRIVILEGES,
    AlterUserStatement,
    CreateUserStatement,
    DropUserStatement,
    GrantStatement,
    SetPasswordStatement,
    ShowGrantsStatement,
)


class UserError(CairnError):
    """A user statement names a user that does (or does not) exist."""

    mysql_code, sqlstate = 1396, "HY000"


def _exists(catalog: Catalog, name: str) -> bool:
    return name in catalog.state.users or name == ROOT


def create_user(query: QueryContext, fe: Frontend, statement: CreateUserStatement) -> ResultSet:
    def build(catalog: Catalog) -> CreateUser | None:
        if _exists(catalog, statement.name):
            if statement.if_not_exists:
                return None
            raise UserError(f"Operation CREATE USER failed for '{statement.name}'@'%': user already exists")
        return CreateUser(user=UserRecord(name=statement.name, auth_string=native_password_hash(statement.password)))

    fe.commit_if(build)
    return ResultSet.ok()


def _set_password(fe: Frontend, name: str, password: str) -> None:
    def build(catalog: Catalog) -> SetUserPassword:
        if not _exists(catalog, name):
            raise UserError(f"Operation ALTER USER failed for '{name}'@'%': user does not exist")
        return SetUserPassword(name=name, auth_string=native_password_hash(password))

    fe.commit(build)


def alter_user(query: QueryContext, fe: Frontend, statement: AlterUserStatement) -> ResultSet:
    _set_password(fe, statement.name, statement.password)
    return ResultSet.ok()


def set_password(query: QueryContext, fe: Frontend, statement: SetPasswordStatement) -> ResultSet:
    _set_password(fe, statement.name or query.user, statement.password)
    return ResultSet.ok()


def drop_user(query: QueryContext, fe: Frontend, statement: DropUserStatement) -> ResultSet:
    def build(catalog: Catalog) -> DropUser | None:
        if statement.name == ROOT:
            raise AnalysisError("The root user cannot be dropped")
        if statement.name not in catalog.state.users:
            if statement.if_exists:
                return None
            raise UserError(f"Operation DROP USER failed for '{statement.name}'@'%': user does not exist")
        return DropUser(name=statement.name)

    fe.commit_if(build)
    return ResultSet.ok()


def grant(query: QueryContext, fe: Frontend, statement: GrantStatement) -> ResultSet:
    if not statement.database:  # ON TABLE t: a table of the current database
        if not query.database:
            raise NoDatabaseSelectedError("No database selected")
        statement = replace(statement, database=query.database)
    virtual = fe.engine.virtual_tables
    if virtual.is_virtual_schema(statement.database):
        # Every user reads information_schema (each row filtered by what it may see): SELECT on it is
        # granted already and cannot be taken away.
        if statement.table != "*" and virtual.find(statement.database, statement.table) is None:
            raise UnknownTableError(f"Table '{statement.database}.{statement.table}' doesn't exist")
        if statement.revoke or set(statement.privileges) != {"SELECT"}:
            raise not_supported(f"{'REVOKE' if statement.revoke else 'GRANT'} of "
                                f"{', '.join(statement.privileges)} on information_schema")
        if statement.user not in fe.catalog.state.users and statement.user != ROOT:
            raise UserError(f"User '{statement.user}'@'%' does not exist")
        return ResultSet.ok()

    def build(catalog: Catalog) -> RevokePrivileges | GrantPrivileges:
        if statement.user == ROOT:
            raise AnalysisError("root holds every privilege; its grants cannot change")
        if statement.user not in catalog.state.users:
            raise UserError(f"User '{statement.user}'@'%' does not exist")
        if statement.database != "*":
            db = catalog.database(statement.database)
            if statement.table != "*" and statement.table not in db.views:  # a view is granted on as a table
                catalog.table(statement.database, statement.table)
        rule = Grant(privileges=sorted(set(statement.privileges)), database=statement.database, table=statement.table)
        if statement.revoke:
            return RevokePrivileges(name=statement.user, grant=rule)
        return GrantPrivileges(name=statement.user, grant=rule)

    fe.commit(build)
    return ResultSet.ok()


def _grant_text(name: str, rule: Grant) -> str:
    target = "SYSTEM" if set(rule.privileges) <= set(SYSTEM_PRIVILEGES) else f"{rule.database}.{rule.table}"
    return f"GRANT {', '.join(rule.privileges)} ON {target} TO '{name}'@'%'"


def show_grants(query: QueryContext, fe: Frontend, statement: ShowGrantsStatement) -> ResultSet:
    name = statement.user or query.user
    catalog = fe.catalog
    if not _exists(catalog, name):
        raise UserError(f"User '{name}'@'%' does not exist")
    if name == ROOT:
        lines = [f"GRANT ALL ON *.* TO '{ROOT}'@'%'"]
    else:
        lines = [_grant_text(name, rule) for rule in catalog.state.users[name].grants]
    return ResultSet.from_rows(["UserIdentity", "Catalog", "Grants"],
                               [(f"'{name}'@'%'", "default_catalog", line) for line in lines])


def _set_password_needs(ctx: QueryContext, statement: SetPasswordStatement,
                        virtual: VirtualTables) -> Iterable[Requirement]:
    """Anyone may set their own password; another user's takes cluster administration."""
    return () if statement.name in (None, ctx.user) else cluster_admin(ctx, statement, virtual)


def _show_grants_needs(ctx: QueryContext, statement: ShowGrantsStatement,
                       virtual: VirtualTables) -> Iterable[Requirement]:
    """Anyone may see their own grants; another user's take cluster administration."""
    return () if statement.user in (None, ctx.user) else cluster_admin(ctx, statement, virtual)


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(CreateUserStatement, create_user, needs=cluster_admin, writes=True)
    statements.add(AlterUserStatement, alter_user, needs=cluster_admin, writes=True)
    statements.add(SetPasswordStatement, set_password, needs=_set_password_needs, writes=True)
    statements.add(DropUserStatement, drop_user, needs=cluster_admin, writes=True)
    statements.add(GrantStatement, grant, needs=cluster_admin, writes=True)
    statements.add(ShowGrantsStatement, show_grants, needs=_show_grants_needs)
