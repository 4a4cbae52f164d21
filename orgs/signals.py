"""Signals orgs/ sends so that apps above it can react without orgs/ importing them."""

from django.dispatch import Signal

# Sent inside membership_remove's transaction, before the row goes; kwargs: org, membership.
member_removing = Signal()
