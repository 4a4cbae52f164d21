"""Evidence packs (issue #7 item 7) and audit-log extracts of a row (item 1).

models.py: EvidencePack (one requested export, built by a Celery task).
extract.py: the row's audit events as an audit_extract evidence item.
build.py: pack_request (the service behind the buttons) and pack_build (the task's body),
which writes the ZIP: manifest.json, summary.html and the evidence files.
verify.py: the checks behind `manage.py verify_evidence_pack` (no database needed).
"""
