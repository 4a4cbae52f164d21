"""EvidencePack: one requested export of a row's or a project's evidence, as a ZIP."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from orgs.scoping import OrgScopedQuerySet


def pack_upload_to(pack, filename: str) -> str:
    # Under the org and the pack's own id: no user-chosen path, no clash.
    return f"packs/{pack.org_id}/{pack.public_id}.zip"


class EvidencePack(models.Model):
    """One export of the evidence of a row or of every row of a project: requested by a
    member (approvals/packs/build.py pack_request), built in the background by the task
    approvals.build_evidence_pack with progress, stored through the default storage and
    downloaded only through an org-scoped view. Exactly one of row and project is set."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Building"
        SUCCEEDED = "succeeded", "Ready"
        FAILED = "failed", "Failed"

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    row = models.ForeignKey("approvals.PolicyRow", null=True, blank=True,
                            on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey("projects.Project", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey("orgs.Membership", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    # Kept when the member leaves, like an evidence item's collector label.
    requested_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    phase = models.CharField(max_length=64, blank=True)
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=pack_upload_to, blank=True, max_length=300)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    # SHA-256 of the whole ZIP as stored; manifest.json inside holds each file's hash.
    sha256 = models.CharField(max_length=64, blank=True)
    item_count = models.PositiveIntegerField(default=0)
    # {row public id: audit extract item public id} collected for this pack, so a build
    # that a dead worker left half done reuses them instead of collecting twice.
    extracts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.CheckConstraint(
            condition=(Q(row__isnull=False, project__isnull=True)
                       | Q(row__isnull=True, project__isnull=False)),
            name="evidencepack_one_subject")]
        indexes = [models.Index(fields=["org", "-created_at"])]

    def __str__(self):
        return f"Evidence pack {self.public_id} ({self.status})"

    @property
    def is_done(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return int(100 * self.progress / self.total) if self.total else 0

    @property
    def subject_type(self) -> str:
        return "row" if self.row_id else "project"
