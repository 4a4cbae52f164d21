"""Fixtures for real components (worker, browser). Filled in by the infrastructure work."""
