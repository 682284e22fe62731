"""The models this deployment offers, as Dify's model-provider listing describes them.

Datasets name their embedding and rerank models by (provider, model); a pair is available when it
matches what the settings configure. Provider short names are normalised to Dify's plugin form.
"""

from dataclasses import dataclass

from core.settings import Settings

TEXT_EMBEDDING = "text-embedding"
RERANK = "rerank"
MODEL_TYPES = (TEXT_EMBEDDING, RERANK, "llm", "tts", "speech2text", "moderation")

_PROVIDER_LABELS = {
    "sentence_transformers": "Sentence Transformers (local)",
    "openai_api_compatible": "OpenAI-API-compatible",
}


@dataclass(frozen=True)
class AvailableModel:
    provider: str
    model: str
    model_type: str


def normalize_provider(name: str) -> str:
    """`openai` -> `langgenius/openai/openai`, as Dify stores provider ids."""
    return name if "/" in name else f"langgenius/{name}/{name}"


def provider_short_name(provider: str) -> str:
    return provider.rsplit("/", 1)[-1]


def available_models(settings: Settings, model_type: str) -> list[AvailableModel]:
    if model_type == TEXT_EMBEDDING:
        default = AvailableModel(
            normalize_provider(settings.embedding_provider), settings.embedding_model, model_type
        )
        return [default] + [model for model in _embedding_api_models(settings) if model != default]
    if model_type == RERANK and settings.rerank_provider and settings.rerank_model:
        return [
            AvailableModel(normalize_provider(settings.rerank_provider), settings.rerank_model, model_type)
        ]
    return []


def _embedding_api_models(settings: Settings) -> list[AvailableModel]:
    if not settings.embedding_api_base_url:
        return []
    provider = normalize_provider("openai_api_compatible")
    names = [name.strip() for name in settings.embedding_api_models.split(",") if name.strip()]
    return [AvailableModel(provider, name, TEXT_EMBEDDING) for name in names]


def is_available(settings: Settings, model_type: str, provider: str, model: str) -> bool:
    wanted = (normalize_provider(provider), model)
    return any((m.provider, m.model) == wanted for m in available_models(settings, model_type))


def default_embedding_model(settings: Settings) -> AvailableModel:
    return available_models(settings, TEXT_EMBEDDING)[0]


def describe_providers(settings: Settings, model_type: str) -> list[dict]:
    """The body of `GET /workspaces/current/models/model-types/{type}`, grouped by provider."""
    grouped: dict[str, list[AvailableModel]] = {}
    for model in available_models(settings, model_type):
        grouped.setdefault(model.provider, []).append(model)
    return [
        {
            "tenant_id": None,
            "provider": provider,
            "label": _label(provider),
            "icon_small": None,
            "icon_large": None,
            "status": "active",
            "models": [
                {
                    "model": m.model,
                    "label": {"en_US": m.model, "zh_Hans": m.model},
                    "model_type": m.model_type,
                    "features": None,
                    "fetch_from": "customizable-model",
                    "model_properties": {},
                    "deprecated": False,
                    "status": "active",
                    "load_balancing_enabled": False,
                }
                for m in models
            ],
        }
        for provider, models in grouped.items()
    ]


def _label(provider: str) -> dict[str, str]:
    short = provider_short_name(provider)
    text = _PROVIDER_LABELS.get(short, short)
    return {"en_US": text, "zh_Hans": text}
