"""Usage and billing imports: parsers of each source's export (parsers.py), attribution
of what a line names to the org's keys, projects, environments and callers
(attribution.py), the all-or-nothing bulk import and its jobs (services.py, bulk.py).

Usage lines are facts: which policy row they belong to is approvals' business, which it
learns from the evidence.signals.usage_imported signal after an import has committed.
"""
