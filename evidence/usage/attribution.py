"""Attribution: what a usage line names (a key, project, environment, caller, as its source
spells them) resolved to the org's own rows. Unknown names stay null; approvals'
reconciliation raises findings on them.

Matching, in this order, all within the org:
  api_key_ref      the key's public id, its visible prefix (gvk_live_3kP9xQ2a; a full
                   secret is cut to it before it is stored), or its name when unique
  project_ref      public id, slug, or name (case-insensitive)
  environment_ref  public id, or name within the line's project
  caller_ref       public id, or name within the line's project
A line whose key resolved and that names no project, environment or caller takes the
key's; a line that names another environment than its key's keeps the one it names (that
is the "key used in the wrong environment" finding).

Four queries load the org's keys, projects, environments and callers once per import,
so attribution costs dictionary look-ups per line, whatever the file size.
"""

from projects.models import ApiKey, Caller, Environment, Project


def _ci(value: str) -> str:
    return value.strip().lower()


class Attribution:
    """Resolves refs of one org; build once per import (4 queries)."""

    def __init__(self, org):
        self.projects = {}
        for pk, public_id, slug, name in Project.objects.for_org(org).values_list(
                "pk", "public_id", "slug", "name"):
            for ref in (str(public_id), _ci(slug), _ci(name)):
                self.projects.setdefault(ref, pk)
        self.environments, self.env_by_id = {}, {}
        for pk, project, public_id, name in Environment.objects.for_org(org).values_list(
                "pk", "project_id", "public_id", "name"):
            self.env_by_id[str(public_id)] = (pk, project)
            self.environments[(project, _ci(name))] = pk
        self.callers, self.caller_by_id = {}, {}
        for pk, project, public_id, name in Caller.objects.for_org(org).values_list(
                "pk", "project_id", "public_id", "name"):
            self.caller_by_id[str(public_id)] = (pk, project)
            self.callers[(project, _ci(name))] = pk
        self.keys, names = {}, {}
        for row in ApiKey.objects.for_org(org).values_list(
                "pk", "public_id", "prefix", "name", "project_id", "environment_id",
                "caller_id"):
            pk, public_id, prefix, name, *owner = row
            self.keys[str(public_id)] = self.keys[prefix] = (pk, *owner)
            names.setdefault(_ci(name), []).append((pk, *owner))
        for name, keys in names.items():
            if len(keys) == 1:
                self.keys.setdefault(name, keys[0])
        self._cache = {}

    def resolve(self, api_key_ref: str, project_ref: str, environment_ref: str,
                caller_ref: str) -> tuple:
        """(api_key_id, project_id, environment_id, caller_id), None where unknown."""
        refs = (api_key_ref, project_ref, environment_ref, caller_ref)
        hit = self._cache.get(refs)
        if hit is None:
            hit = self._cache[refs] = self._resolve(*refs)
            if len(self._cache) > 100_000:  # bounded: a file of unique refs
                self._cache.clear()
        return hit

    def _resolve(self, api_key_ref, project_ref, environment_ref, caller_ref):
        key = self.keys.get(api_key_ref) or self.keys.get(_ci(api_key_ref)) \
            if api_key_ref else None
        key_id, key_project, key_env, key_caller = key or (None, None, None, None)
        project = self.projects.get(project_ref) or self.projects.get(_ci(project_ref)) \
            if project_ref else key_project
        environment = self._scoped(environment_ref, project, self.env_by_id,
                                   self.environments) if environment_ref else None
        if not environment_ref and key_id is not None and project == key_project:
            environment = key_env
        caller = self._scoped(caller_ref, project, self.caller_by_id,
                              self.callers) if caller_ref else None
        if not caller_ref and key_id is not None and project == key_project:
            caller = key_caller
        return key_id, project, environment, caller

    @staticmethod
    def _scoped(ref, project, by_id, by_name):
        found = by_id.get(ref)
        if found is not None:
            return found[0] if project is None or found[1] == project else None
        return by_name.get((project, _ci(ref))) if project is not None else None


def billing_project(attribution: Attribution, project_ref: str):
    if not project_ref:
        return None
    return attribution.projects.get(project_ref) or attribution.projects.get(_ci(project_ref))
