"""Catalog operations on users and their privileges."""

from __future__ import annotations

from typing import Literal

from cairn.catalog.model import CatalogState, Grant, UserRecord
from cairn.catalog.op_base import Op


class CreateUser(Op):
    kind: Literal["create_user"] = "create_user"
    user: UserRecord

    def apply(self, state: CatalogState, at: float) -> None:
        state.users[self.user.name] = self.user


class SetUserPassword(Op):
    kind: Literal["set_user_password"] = "set_user_password"
    name: str
    auth_string: str

    def apply(self, state: CatalogState, at: float) -> None:
        user = state.users.get(self.name)
        if user is None:  # root exists before any op names it
            user = state.users[self.name] = UserRecord(name=self.name)
        user.auth_string = self.auth_string


class DropUser(Op):
    kind: Literal["drop_user"] = "drop_user"
    name: str

    def apply(self, state: CatalogState, at: float) -> None:
        state.users.pop(self.name, None)


class GrantPrivileges(Op):
    kind: Literal["grant_privileges"] = "grant_privileges"
    name: str
    grant: Grant

    def apply(self, state: CatalogState, at: float) -> None:
        user = state.users[self.name]
        for existing in user.grants:
            if (existing.database, existing.table) == (self.grant.database, self.grant.table):
                existing.privileges = sorted(set(existing.privileges) | set(self.grant.privileges))
                return
        user.grants.append(self.grant)


class RevokePrivileges(Op):
    kind: Literal["revoke_privileges"] = "revoke_privileges"
    name: str
    grant: Grant

    def apply(self, state: CatalogState, at: float) -> None:
        user = state.users[self.name]
        for existing in list(user.grants):
            if (existing.database, existing.table) == (self.grant.database, self.grant.table):
                remaining = set(existing.privileges) - set(self.grant.privileges)
                if "ALL" in self.grant.privileges:
                    remaining = set()
                existing.privileges = sorted(remaining)
                if not remaining:
                    user.grants.remove(existing)
