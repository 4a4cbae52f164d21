"""In-app notifications, per-user preferences and notification emails, fed by the outbox."""
