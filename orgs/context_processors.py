from orgs.selectors import membership_for_user

SECTIONS = [
    # (label, url name, built?) — the product's sections, in workflow order.
    ("Dashboard", "orgs:dashboard", True),
    ("Projects", "projects:project_list", True),
    ("Requests", "approvals:request_list", True),
    ("Matrix", "approvals:matrix", True),
    ("Catalog", "evidence:catalog_list", True),
    ("Evidence", "evidence:item_list", True),
    ("Findings", "approvals:finding_list", True),
    ("Keys", "projects:key_list", True),
    ("Members", "orgs:member_list", True),
    ("Audit", "orgs:audit_list", True),
    ("Settings", "orgs:org_settings", True),
]


def navigation(request):
    """The org switcher's list (one query) and the section list for the layout."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "my_memberships": membership_for_user(user=user),
        "nav_sections": SECTIONS,
    }
