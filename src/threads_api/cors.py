"""CORS for browser clients (contract §16): on only for `THREADS_API_CORS_ORIGINS`."""

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from threads_api.config import Settings
from threads_api.errors import BadRequest
from threads_api.logs import current_request_id
from threads_api.middleware import problem_response_parts

# What a browser script may read from a response, beyond the CORS-safelisted headers.
EXPOSED_HEADERS = ("ETag", "Location", "Link", "Idempotent-Replayed", "X-Request-ID", "Retry-After")
ALLOWED_HEADERS = (
    "Content-Type",
    "X-API-Key",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "X-Request-ID",
    "Last-Event-ID",
)
ALLOWED_METHODS = ("GET", "HEAD", "POST", "PATCH", "DELETE")


class CorsPreflightRejected(BadRequest):
    code = "cors_preflight_rejected"
    title = "CORS preflight rejected"


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as a problem document."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        detail = bytes(response.body).decode()  # e.g. "Disallowed CORS origin, headers": no input
        body, headers = problem_response_parts(
            CorsPreflightRejected(f"{detail}."), current_request_id.get() or ""
        )
        return Response(body, 400, headers={k.decode(): v.decode() for k, v in headers})


def add_cors(app: FastAPI, settings: Settings) -> None:
    if not settings.cors_origins:
        return
    app.add_middleware(
        ProblemCORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )
