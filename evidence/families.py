"""Endpoint families, the actions a gateway request can ask for, and the one table that
says which actions each family can serve.

The approvals issue reads ACTIONS_BY_FAMILY to refuse a request for an action the model
cannot do (an image action on an embeddings-only model). A catalog entry may belong to
several families (a chat model that also answers /v1/responses and /v1/messages); it can
serve the union of their actions.
"""

from django.db import models


class Family(models.TextChoices):
    CHAT_COMPLETIONS = "chat_completions", "Chat completions"
    RESPONSES = "responses", "Responses"
    MESSAGES = "messages", "Messages"
    EMBEDDINGS = "embeddings", "Embeddings"
    IMAGE_GENERATION = "image_generation", "Image generation"
    IMAGE_EDIT = "image_edit", "Image edit"
    VIDEO_GENERATION = "video_generation", "Video generation"
    AUDIO_TRANSCRIPTION = "audio_transcription", "Audio transcription"
    AUDIO_SPEECH = "audio_speech", "Audio speech"
    REALTIME = "realtime", "Realtime audio"
    OTHER = "other", "Other"


class Action(models.TextChoices):
    CHAT = "chat", "Chat"
    CHAT_STREAM = "chat_stream", "Streaming chat"
    RESPONSES = "responses", "Responses"
    EMBEDDINGS = "embeddings", "Embeddings"
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"
    AUDIO = "audio", "Audio"
    TOOL_CALLS = "tool_calls", "Tool calls"
    BATCH = "batch", "Batch"
    TUNING = "tuning", "Tuning"


A = Action
# The table. Batch follows the providers' batch APIs (chat completions, responses,
# embeddings, Anthropic message batches); tuning is offered for chat models only.
# "other" (rerank, search, OCR, moderation, legacy completions...) serves none of the
# actions a policy row can approve, so such a model can never be approved for one.
ACTIONS_BY_FAMILY: dict[str, frozenset[str]] = {
    Family.CHAT_COMPLETIONS: frozenset({A.CHAT, A.CHAT_STREAM, A.TOOL_CALLS, A.BATCH, A.TUNING}),
    Family.RESPONSES: frozenset({A.RESPONSES, A.CHAT_STREAM, A.TOOL_CALLS, A.BATCH}),
    Family.MESSAGES: frozenset({A.CHAT, A.CHAT_STREAM, A.TOOL_CALLS, A.BATCH}),
    Family.EMBEDDINGS: frozenset({A.EMBEDDINGS, A.BATCH}),
    Family.IMAGE_GENERATION: frozenset({A.IMAGE}),
    Family.IMAGE_EDIT: frozenset({A.IMAGE}),
    Family.VIDEO_GENERATION: frozenset({A.VIDEO}),
    Family.AUDIO_TRANSCRIPTION: frozenset({A.AUDIO}),
    Family.AUDIO_SPEECH: frozenset({A.AUDIO}),
    Family.REALTIME: frozenset({A.AUDIO, A.CHAT_STREAM, A.TOOL_CALLS}),
    Family.OTHER: frozenset(),
}


def actions_for(families) -> frozenset[str]:
    """Every action that an entry in these families can serve."""
    result: frozenset[str] = frozenset()
    for family in families:
        result |= ACTIONS_BY_FAMILY.get(family, frozenset())
    return result


def can_serve(families, action: str) -> bool:
    """True if a model in these endpoint families can serve action."""
    return action in actions_for(families)
