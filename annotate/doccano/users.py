"""The server's users, the logged-in one included, and a project's members and their roles."""

from __future__ import annotations

from typing import Any

from annotate.doccano.transport import Transport
from annotate.errors import NotFound, PermissionDenied, RequestRejected, UsageError

ROLE_IDS = {"project_admin": 1, "annotator": 2, "annotation_approver": 3}
"""Doccano's built-in roles (``create_roles`` makes them in this order)."""


class Users(Transport):
    """The user, role and member calls of :class:`annotate.doccano.DoccanoAPI`."""

    _me: dict[str, Any] | None = None
    """The logged-in user, once :meth:`whoami` asked for it."""

    def whoami(self) -> dict[str, Any]:
        """Return the logged-in user (``id``, ``username``, ``is_superuser``, ...)."""
        if self._me is None:
            self._me = self.get_json("me", what="who am I")
        return self._me

    def create_user(self, username: str, password: str, *, email: str | None = None) -> dict[str, Any]:
        """Create a user (admin only) and return it (``id``, ``username``)."""
        body = {
            "username": username,
            "email": email or f"{username}@example.invalid",
            "password1": password,
            "password2": password,
        }
        try:
            return self._request(
                "POST", "users/create", json=body, expected=(201,), what=f"create user {username!r}"
            ).json()
        except RequestRejected as e:
            # The body may echo fields; never let the new user's password into a message.
            raise RequestRejected(
                e.message.replace(password, "***"), status=e.status, body=e.body.replace(password, "***")
            ) from None

    def list_users(self) -> list[dict[str, Any]]:
        """Return every user of the server (``id``, ``username``, ``is_superuser``, ``is_staff``)."""
        return list(self.get_json("users", what="list users"))

    def find_user(self, username: str) -> dict[str, Any]:
        """Return the user with exactly this name; NotFound otherwise."""
        for user in self.get_json("users", params={"q": username}, what="list users"):
            if user.get("username") == username:
                return dict(user)
        raise NotFound(f"no user {username!r} at {self.url}")

    def role_id(self, role: str | int) -> int:
        """Return the id of a role given by name (``annotator``) or id."""
        if isinstance(role, int) or str(role).isdigit():
            return int(role)
        found = self._server_roles().get(str(role))
        if found is not None:
            return found
        if role in ROLE_IDS:
            return ROLE_IDS[role]
        raise UsageError(f"unknown role {role!r}", hint="one of: " + ", ".join(ROLE_IDS))

    def _server_roles(self) -> dict[str, int]:
        """The server's role ids by name, asked once per connection (a team push adds many
        members); empty where the user may not list them."""
        roles: dict[str, int] | None = getattr(self, "_role_ids", None)
        if roles is None:
            try:
                roles = {
                    str(r["name"]): int(r["id"])
                    for r in self.get_json("roles", what="list roles")
                    if r.get("name") is not None
                }
            except (NotFound, PermissionDenied):
                roles = {}
            self._role_ids = roles
        return roles

    def list_members(self, project_id: int) -> list[dict[str, Any]]:
        """Return the project's members (``user``, ``username``, ``role``, ``rolename``)."""
        return self.list_all(f"projects/{int(project_id)}/members")

    def add_member(self, project_id: int, user: str | int, role: str | int = "annotator") -> dict[str, Any]:
        """Add a user (name or id) to a project with a role; return the membership."""
        user_id = user if isinstance(user, int) else int(self.find_user(user)["id"])
        return self._request(
            "POST",
            f"projects/{int(project_id)}/members",
            json={"user": user_id, "role": self.role_id(role)},
            expected=(201,),
            what=f"add member {user} to project {project_id}",
        ).json()

    def set_member_role(self, project_id: int, member: dict[str, Any], role: str | int) -> dict[str, Any]:
        """Give a project member (as :meth:`list_members` returns it) another role; return it."""
        return self._request(
            "PUT",
            f"projects/{int(project_id)}/members/{int(member['id'])}",
            json={"user": int(member["user"]), "role": self.role_id(role)},
            what=f"set the role of {member.get('username')} in project {project_id}",
        ).json()
