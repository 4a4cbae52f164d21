"""Project roles as guardian permission sets on one Project."""

from django.db import models


class ProjectRole(models.TextChoices):
    ADMIN = "admin", "Project admin"
    DEVELOPER = "developer", "Developer"
    VIEWER = "viewer", "Viewer"


PERMS = {
    ProjectRole.ADMIN: ("view_project", "change_project", "administer_project",
                        "develop_in_project"),
    ProjectRole.DEVELOPER: ("view_project", "develop_in_project"),
    ProjectRole.VIEWER: ("view_project",),
}
ALL_PERMS = frozenset(p for perms in PERMS.values() for p in perms)


def role_from_perms(perms) -> str | None:
    """The highest role whose permission set the given codenames cover."""
    held = set(perms)
    for role in ProjectRole:
        if set(PERMS[role]) <= held:
            return role
    return None
