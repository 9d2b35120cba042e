"""Sophia backend: the entrypoint. It builds the FastAPI app from the
`sophia` package and serves it with uvicorn.

The code is mounted read-only from a ConfigMap (or copied into a read-only
emptyDir), so it must never write next to itself or to the root filesystem:
no bytecode cache, no log files, everything to stdout. The pod puts the code
root on PYTHONPATH, so `import sophia` works from wherever this file lies.
"""

import sys

# The pod sets PYTHONDONTWRITEBYTECODE=1 too; this covers `python app.py` run by hand.
sys.dont_write_bytecode = True

from sophia import create_app  # noqa: E402
from sophia.settings import load_settings  # noqa: E402

settings = load_settings()
app = create_app(settings)


def main() -> None:
    import uvicorn

    print(
        f"sophia-backend: starting uvicorn on 0.0.0.0:{settings.port}"
        f" (environment {settings.environment})",
        flush=True,
    )
    uvicorn.run(app, host="0.0.0.0", port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    main()
