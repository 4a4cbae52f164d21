"""The endpoint family -> actions table."""

from evidence.families import ACTIONS_BY_FAMILY, Action, Family, actions_for, can_serve


def test_every_family_has_a_row_and_every_row_names_real_actions():
    assert set(ACTIONS_BY_FAMILY) == set(Family.values)
    assert set().union(*ACTIONS_BY_FAMILY.values()) <= set(Action.values)


def test_an_embeddings_model_cannot_make_images_or_chat():
    assert can_serve(["embeddings"], Action.EMBEDDINGS)
    assert not can_serve(["embeddings"], Action.IMAGE)
    assert not can_serve(["embeddings"], Action.CHAT)


def test_a_model_serves_the_union_of_its_families():
    assert actions_for(["chat_completions", "responses"]) >= {"chat", "responses", "tuning"}
    assert actions_for(["other"]) == frozenset()
