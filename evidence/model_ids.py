"""Model and platform identities: the one place they are normalised (issue 13, section 4).

Every place that stores or compares a model identity goes through here: deny rules (on
write, approvals/services/deny_rules.py, and when the decision index is compiled), the
rows' approved models (compiled from catalog entries by approvals/decisions/loader.py),
the model a gateway asks about (approvals/decisions/engine.py, per request), and usage
attribution and pricing (approvals/reconcile.py, evidence/usage/services.py). The rules
(docs/gateway-integration.md, "Model names", says the same to gateway authors):

1. Surrounding whitespace is dropped and case is ignored: " Mistral-Large " and
   "mistral-large" are one identity, "AZURE" and "azure" one platform. Catalog entries
   keep the source's spelling (a snapshot is an immutable record); they are normalised
   when read for a comparison, never rewritten.
2. A name is either bare ("gpt-4o") or qualified by its platform ("azure/gpt-4o"). Only
   the first "/" can separate a platform, and only when what precedes it is a known
   platform: model ids may contain "/" themselves, so "openrouter/meta-llama/llama-3-70b"
   is the model "meta-llama/llama-3-70b" on "openrouter", and "meta-llama/llama-3-70b"
   alone (no platform "meta-llama") is a bare id. "bedrock/anthropic.claude-3" is
   "anthropic.claude-3" on "bedrock".
3. A platform never contains "/".

Pure string functions, no Django: the decision engine calls `normalise` once per request
on its hot path (a strip and a lower, well under a microsecond).
"""

SEPARATOR = "/"


def normalise(value) -> str:
    """The comparable form of a platform, a model id or a qualified name: surrounding
    whitespace dropped, lower case. None and "" give ""."""
    return (value or "").strip().lower()


def qualify(platform: str, model_id: str) -> str:
    """The qualified name "platform/model_id" of a catalog entry, normalised."""
    return f"{normalise(platform)}{SEPARATOR}{normalise(model_id)}"


def names(platform: str, model_id: str) -> tuple[str, str]:
    """Both strings a request may use for the entry (platform, model_id): the bare id and
    the qualified name, normalised."""
    return normalise(model_id), qualify(platform, model_id)


def split(name: str, platforms) -> tuple[str, str]:
    """(platform, model id) of a bare or qualified name, both normalised. `platforms` are
    the known platforms, already normalised (a set is cheapest); the platform is "" when
    the name is bare, i.e. its first segment is not one of them (rule 2)."""
    name = normalise(name)
    head, sep, rest = name.partition(SEPARATOR)
    if sep and rest.strip() and head.strip() in platforms:
        return head.strip(), rest.strip()
    return "", name


def matches(name: str, platform: str, model_id: str) -> bool:
    """Does the name (bare or qualified, any case, any surrounding whitespace) name the
    catalog entry (platform, model_id)?"""
    return normalise(name) in names(platform, model_id)
