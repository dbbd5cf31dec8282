"""The HTTP API: an ASGI app (FastAPI on uvicorn) with JSON under /api/ and the OpenAPI document at /openapi.json.

Every endpoint is wiring over the services; authorization lives in the services, so the
command line and the API run the same checks.  Imported only by `bodega serve` (and tests):
the command line never loads FastAPI at start-up.
"""
