from fastapi import APIRouter

from api.deps import CallerDep
from core import model_providers
from core.errors import InvalidParam
from core.settings import get_settings

router = APIRouter(prefix="/workspaces/current/models", tags=["models"])


@router.get("/model-types/{model_type}")
def list_available_models(model_type: str, _caller: CallerDep) -> dict:
    """The models this deployment offers for `text-embedding` or `rerank`, by provider, with their status."""
    if model_type not in model_providers.MODEL_TYPES:
        raise InvalidParam(f"Invalid model type: {model_type}")
    return {"data": model_providers.describe_providers(get_settings(), model_type)}
