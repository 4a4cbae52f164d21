"""Template filters for dicts stored as JSON (audit changes, event payloads, import
reports, catalog diffs).

`{% for k, v in d.items %}` is unsafe on stored data: the template engine tries d["items"]
before the method, so a dict with an "items" key (an evidence pack's audit event has
one) iterates its value instead, and the page crashes. `d|pairs` calls the method."""

from django import template

register = template.Library()


@register.filter
def pairs(value) -> list:
    """The (key, value) pairs of a dict, in stored order; nothing for anything else (a
    null column, a list from an older row)."""
    return list(value.items()) if isinstance(value, dict) else []
