"""Signed webhooks: endpoints per org, deliveries of notification events, attempts log."""
