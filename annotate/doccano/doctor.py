"""``annotate doctor``: check the connection to Doccano and report what the user can see."""

from __future__ import annotations

from dataclasses import dataclass, field

from annotate.doccano import DoccanoAPI, RetryPolicy
from annotate.doccano.server import local_version
from annotate.settings import ConnectionSettings


@dataclass(frozen=True)
class ProjectSummary:
    id: int
    name: str
    project_type: str


@dataclass(frozen=True)
class DoctorReport:
    """What ``diagnose`` found: the server, its version (None if unknown), the user, the projects."""

    url: str
    version: str | None
    username: str
    is_superuser: bool
    projects: list[ProjectSummary] = field(default_factory=list)


def diagnose(settings: ConnectionSettings, *, retry: RetryPolicy | None = None) -> DoctorReport:
    """Check health, log in, and return the server, user and visible projects.

    Raises ConnectionFailed, ServerError (unhealthy) or AuthenticationFailed, in that order of checks.
    """
    with DoccanoAPI(settings, retry=retry) as api:
        api.health()
        api.login()
        me = api.whoami()
        projects = [
            ProjectSummary(int(p["id"]), str(p.get("name", "")), str(p.get("project_type", "")))
            for p in api.list_projects()
        ]
        return DoctorReport(
            url=api.url,
            version=api.server_version() or local_version(api.url),
            username=str(me.get("username", settings.username)),
            is_superuser=bool(me.get("is_superuser")),
            projects=sorted(projects, key=lambda p: p.id),
        )
