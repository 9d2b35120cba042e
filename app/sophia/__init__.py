"""The sophia backend as a package: settings from the environment, one
router per concern. `create_app` wires them into a FastAPI app."""

from fastapi import FastAPI

from sophia.routers import health, info
from sophia.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="sophia-backend")
    app.state.settings = settings
    app.include_router(health.router)
    app.include_router(info.router)
    return app
