"""GET /health: what the startup, readiness and liveness probes ask."""

from fastapi import APIRouter

router = APIRouter()


@router.get("/health")
def health() -> dict:
    return {"status": "ok"}
