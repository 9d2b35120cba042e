"""Settings from the environment, read once at start.

Secrets arrive as environment variables from Kubernetes Secrets
(FixedPythonApp's `secretEnv`); they are kept here and only ever reported
as set or not, never echoed.
"""

import os
from dataclasses import dataclass, field
from typing import Mapping, Optional

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


@dataclass(frozen=True)
class Settings:
    port: int
    environment: str
    log_level: str
    # repr=False: a settings object in a log line must not print the key.
    openai_api_key: Optional[str] = field(default=None, repr=False)

    @property
    def openai_configured(self) -> bool:
        return bool(self.openai_api_key)


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Reads PORT, SOPHIA_ENVIRONMENT, LOG_LEVEL and OPENAI_API_KEY; a bad
    value stops the start with a message that names the variable."""
    raw_port = environ.get("PORT", "8000")
    try:
        port = int(raw_port)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ValueError(f"PORT must be a port number from 1 to 65535, not {raw_port!r}")
    log_level = environ.get("LOG_LEVEL", "info").lower()
    if log_level not in LOG_LEVELS:
        raise ValueError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    return Settings(
        port=port,
        environment=environ.get("SOPHIA_ENVIRONMENT", "production"),
        log_level=log_level,
        openai_api_key=environ.get("OPENAI_API_KEY") or None,
    )
