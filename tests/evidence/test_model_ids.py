"""The one normalisation of model and platform identities (evidence/model_ids.py)."""

import pytest

from evidence.model_ids import matches, names, normalise, split

PLATFORMS = {"azure", "openrouter", "bedrock"}


@pytest.mark.parametrize(("raw", "expected"), [
    ("Mistral-Large", "mistral-large"),
    ("  gpt-4o\t\n", "gpt-4o"),
    ("AZURE", "azure"),
    ("OpenRouter/Meta-Llama/Llama-3-70B", "openrouter/meta-llama/llama-3-70b"),
    (None, ""),
])
def test_normalise_ignores_case_and_surrounding_whitespace(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("azure/gpt-4o", ("azure", "gpt-4o")),
    (" AZURE/GPT-4o ", ("azure", "gpt-4o")),
    ("openrouter/meta-llama/llama-3-70b", ("openrouter", "meta-llama/llama-3-70b")),
    ("bedrock/anthropic.claude-3", ("bedrock", "anthropic.claude-3")),
    # No platform "meta-llama": an id containing "/" stays whole.
    ("meta-llama/llama-3-70b", ("", "meta-llama/llama-3-70b")),
    ("gpt-4o", ("", "gpt-4o")),
    ("azure/", ("", "azure/")),
])
def test_split_separates_only_a_known_platform_at_the_first_slash(name, expected):
    assert split(name, PLATFORMS) == expected


def test_an_entry_answers_to_its_bare_and_qualified_names_in_any_case():
    assert names("OpenRouter", "Meta-Llama/Llama-3-70B") == (
        "meta-llama/llama-3-70b", "openrouter/meta-llama/llama-3-70b")
    assert matches(" Meta-Llama/llama-3-70b", "openrouter", "meta-llama/llama-3-70b")
    assert matches("OPENROUTER/meta-llama/llama-3-70b", "openrouter", "meta-llama/llama-3-70b")
    assert not matches("llama-3-70b", "openrouter", "meta-llama/llama-3-70b")
    assert not matches("azure/meta-llama/llama-3-70b", "openrouter", "meta-llama/llama-3-70b")
