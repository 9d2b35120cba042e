"""Sophia backend: a minimal FastAPI service.

It is mounted read-only from a ConfigMap (or copied into a read-only emptyDir),
so it must never write next to itself or to the root filesystem: no bytecode
cache, no log files, everything to stdout.
"""

import os
import sys

# The pod sets PYTHONDONTWRITEBYTECODE=1 too; this covers `python app.py` run by hand.
sys.dont_write_bytecode = True

from fastapi import FastAPI  # noqa: E402

app = FastAPI(title="sophia-backend")


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.get("/")
def root() -> dict:
    return {"service": "sophia-backend", "python": sys.version.split()[0]}


def main() -> None:
    import uvicorn

    port = int(os.environ.get("PORT", "8000"))
    print(f"sophia-backend: starting uvicorn on 0.0.0.0:{port}", flush=True)
    uvicorn.run(app, host="0.0.0.0", port=port, log_level="info")


if __name__ == "__main__":
    main()
