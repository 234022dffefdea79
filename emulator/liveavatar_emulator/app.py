"""Application factory: the REST API, the LITE WebSocket and the inspection API."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from . import inspect, lite_ws, rest, viewer
from .config import EmulatorConfig
from .envelope import ApiError, api_error_handler
from .faults import FaultInjector
from .sessions import FullBackend, SessionRegistry


def create_app(config: EmulatorConfig, full_backend: FullBackend | None = None) -> FastAPI:
    """Build the emulator app. ``app.state`` holds ``config``, ``registry`` and ``faults``."""
    app = FastAPI(title="LiveAvatar emulator", version="0.1.0", docs_url=None, redoc_url=None)
    faults = FaultInjector()
    app.state.config = config
    app.state.registry = SessionRegistry(config, full_backend)
    app.state.faults = faults
    app.add_exception_handler(ApiError, api_error_handler)
    app.middleware("http")(faults.middleware)
    # Outermost, so preflights never reach auth or fault injection: HeyGen's web SDK calls the
    # REST API from the page with credentials and the Authorization/Content-Type headers.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(config.cors_origins),
        allow_credentials=True,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-API-KEY"],
    )
    app.include_router(rest.router)
    app.include_router(lite_ws.router)
    app.include_router(inspect.router)
    app.include_router(viewer.router)
    return app
