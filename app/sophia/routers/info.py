"""GET / and GET /v1/info: what runs, from which module, with which settings.

/v1/info answers from this nested module with values from sophia.settings,
so a 200 proves the package tree arrived with its folders intact.
"""

import sys

from fastapi import APIRouter, Request

router = APIRouter()


@router.get("/")
def root() -> dict:
    return {"service": "sophia-backend", "python": sys.version.split()[0]}


@router.get("/v1/info")
def info(request: Request) -> dict:
    settings = request.app.state.settings
    return {
        "service": "sophia-backend",
        "module": __name__,
        "environment": settings.environment,
        "openai_api_key": "set" if settings.openai_configured else "missing",
    }
