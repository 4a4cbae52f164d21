"""The confirm step of a consequential POST (rotate or revoke a key, change a member's
role): the first POST of a valid form changes nothing and answers a page that says what
will happen, whose button posts the same fields again to the same URL with confirm=yes.
The server, not a JavaScript dialog, requires the second step, so one stray click (or a
form submitted without JS) never rotates, revokes or re-roles anything."""

from django.shortcuts import render

CONFIRM_FIELD = "confirm"


def confirmed(request) -> bool:
    """The POST carries the confirm step's answer."""
    return request.POST.get(CONFIRM_FIELD) == "yes"


def confirm_page(request, *, title: str, lines: list[str], action: str, fields: dict,
                 button: str, cancel: str, danger: bool = False):
    """The confirmation page: `lines` say what the change does, `fields` are re-posted
    as hidden inputs to `action` with confirm=yes; `cancel` goes back unchanged."""
    context = {"title": title, "lines": lines, "action": action, "fields": fields.items(),
               "button": button, "cancel": cancel, "danger": danger}
    return render(request, "orgs/action_confirm.html", context)
