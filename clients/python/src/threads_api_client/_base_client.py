"""The HTTP core shared by ThreadsClient and AsyncThreadsClient: building requests, sending
them with retries, and turning answers into models or exceptions."""

import asyncio
import logging
import os
import platform
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from threads_api_client._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ThreadsClientError,
    error_from_response,
)
from threads_api_client._models import APIObject, ResponseInfo, with_response
from threads_api_client._operations import Operation
from threads_api_client._pagination import Page
from threads_api_client._retry import retry_delay, should_retry
from threads_api_client._version import __version__

logger = logging.getLogger("threads_api_client")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2

ModelT = TypeVar("ModelT", bound=APIObject)
QueryValue = str | int | float | None


@dataclass(frozen=True)
class RequestOptions:
    operation: Operation
    path_params: dict[str, str] = field(default_factory=dict)
    query: Mapping[str, QueryValue] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str | None] = field(default_factory=dict)
    idempotency_key: str | None = None
    # A long-poll: the server may hold the answer this long, so the read timeout is longer.
    long_poll_seconds: float = 0.0


def request_options(
    operation: Operation,
    path_params: dict[str, str] | None = None,
    *,
    query: Mapping[str, QueryValue] | None = None,
    body: Mapping[str, Any] | None = None,
    headers: Mapping[str, str | None] | None = None,
    idempotency_key: str | None = None,
    long_poll_seconds: float = 0.0,
) -> RequestOptions:
    """The request of one SDK call. A create gets its Idempotency-Key here, once, so that
    every retry of the call sends the same one."""
    if operation.creates and idempotency_key is None:
        idempotency_key = str(uuid.uuid4())
    return RequestOptions(
        operation,
        path_params or {},
        query or {},
        body,
        headers or {},
        idempotency_key if operation.creates else None,
        long_poll_seconds,
    )


class _ListEnvelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    data: list[dict[str, Any]]
    has_more: bool = False
    next_cursor: str | None = None


def parse_object(model: type[ModelT], response: httpx.Response, info: ResponseInfo) -> ModelT:
    obj = model.model_validate(response.json())
    with_response(obj, info)
    return obj


def parse_page(model: type[ModelT], response: httpx.Response, info: ResponseInfo) -> Page[ModelT]:
    envelope = _ListEnvelope.model_validate(response.json())
    items = [model.model_validate(item) for item in envelope.data]
    for item in items:
        with_response(item, info)
    return Page(items, envelope.has_more, envelope.next_cursor, info)


class BaseClient:
    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float | httpx.Timeout,
        max_retries: int,
    ) -> None:
        api_key = api_key if api_key is not None else os.environ.get("THREADS_API_KEY")
        if not api_key:
            raise ThreadsClientError(
                "No API key: pass api_key=... or set the THREADS_API_KEY environment variable."
            )
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.api_key = api_key
        self.base_url = base_url or os.environ.get("THREADS_API_URL") or DEFAULT_BASE_URL
        self.timeout = timeout
        self.max_retries = max_retries

    def __repr__(self) -> str:  # never the API key
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _default_headers(self) -> dict[str, str]:
        return {
            "X-API-Key": self.api_key,
            "Accept": "application/json",
            "User-Agent": f"threads-api-client/{__version__} python/{platform.python_version()}",
        }

    def _build_request(
        self, http: httpx.Client | httpx.AsyncClient, options: RequestOptions
    ) -> httpx.Request:
        headers = {k: v for k, v in options.headers.items() if v is not None}
        if options.idempotency_key is not None:
            headers["Idempotency-Key"] = options.idempotency_key
        return http.build_request(
            options.operation.method,
            options.operation.url(options.path_params),
            params={k: v for k, v in options.query.items() if v is not None},
            json=options.body,
            headers=headers,
            timeout=self.read_timeout_plus(options.long_poll_seconds),
        )

    def read_timeout_plus(self, seconds: float) -> httpx.Timeout:
        """The client's timeout, with `seconds` more to wait for each read (none stays none)."""
        timeout = httpx.Timeout(self.timeout)
        read = None if timeout.read is None else timeout.read + seconds
        return httpx.Timeout(
            connect=timeout.connect, read=read, write=timeout.write, pool=timeout.pool
        )

    def _info(
        self, response: httpx.Response, options: RequestOptions, retries: int
    ) -> ResponseInfo:
        return ResponseInfo.of(response, idempotency_key=options.idempotency_key, retries=retries)

    def _next_delay(
        self, options: RequestOptions, retries: int, outcome: httpx.Response | Exception
    ) -> float | None:
        """Seconds to wait before sending again, or None to give up with this outcome."""
        if retries >= self.max_retries or not options.operation.retried:
            return None
        if isinstance(outcome, httpx.Response):
            if not should_retry(outcome):
                return None
            delay = retry_delay(retries, outcome.headers.get("retry-after"))
            reason = f"{outcome.status_code} {outcome.reason_phrase}"
        else:
            delay = retry_delay(retries)
            reason = type(outcome).__name__
        logger.info(
            "%s %s: %s; retrying in %.2f s (retry %d of %d)",
            options.operation.method,
            options.operation.path,
            reason,
            delay,
            retries + 1,
            self.max_retries,
        )
        return delay

    def _failure(
        self, options: RequestOptions, outcome: httpx.Response | Exception, lost_answer: bool
    ) -> Exception:
        """The exception for the last outcome of a request that did not succeed."""
        if isinstance(outcome, httpx.Response):
            note = None
            if lost_answer and outcome.status_code == 412:
                # The attempt whose answer was lost may have been applied: its change is then
                # what moved the ETag.
                note = "an earlier attempt, whose answer was lost, may have been applied"
            elif (
                lost_answer and outcome.status_code == 404 and options.operation.method == "DELETE"
            ):
                # …or, for a removal (webhooks.delete), what made it disappear.
                note = "an earlier attempt, whose answer was lost, may have removed it"
            return error_from_response(outcome, note=note)
        what = f"{options.operation.method} {options.operation.path}"
        if not options.operation.retried:
            what += " (sent once, never again by the SDK: it may or may not have been done)"
        if isinstance(outcome, httpx.TimeoutException):
            return APITimeoutError(f"{what}: no answer within the timeout ({outcome!r})")
        return APIConnectionError(f"{what}: no answer ({type(outcome).__name__}: {outcome})")


class SyncAPIClient(BaseClient):
    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float | httpx.Timeout,
        max_retries: int,
        http_client: httpx.Client | None,
    ) -> None:
        super().__init__(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client()
        self._http.base_url = httpx.URL(self.base_url)
        self._http.timeout = httpx.Timeout(timeout)
        self._http.headers.update(self._default_headers())

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _send(
        self, options: RequestOptions, *, stream: bool = False
    ) -> tuple[httpx.Response, ResponseInfo]:
        """The successful answer, after retries. With `stream`, its body is not read yet:
        the caller reads it and closes the response."""
        retries = 0
        lost_answer = False
        while True:
            outcome: httpx.Response | Exception
            request = self._build_request(self._http, options)
            try:
                outcome = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                outcome = exc
            if isinstance(outcome, httpx.Response) and outcome.is_success:
                return outcome, self._info(outcome, options, retries)
            if isinstance(outcome, httpx.Response) and stream:
                try:
                    outcome.read()  # the problem document; this closes it
                except httpx.TransportError as exc:
                    outcome = exc
            delay = self._next_delay(options, retries, outcome)
            if delay is None:
                raise self._failure(options, outcome, lost_answer) from (
                    outcome if isinstance(outcome, Exception) else None
                )
            lost_answer = lost_answer or isinstance(outcome, Exception)
            self._sleep(delay)
            retries += 1

    def _object(self, model: type[ModelT], options: RequestOptions) -> ModelT:
        response, info = self._send(options)
        return parse_object(model, response, info)

    def _page(self, model: type[ModelT], options: RequestOptions) -> Page[ModelT]:
        response, info = self._send(options)
        return parse_page(model, response, info)


class AsyncAPIClient(BaseClient):
    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float | httpx.Timeout,
        max_retries: int,
        http_client: httpx.AsyncClient | None,
    ) -> None:
        super().__init__(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient()
        self._http.base_url = httpx.URL(self.base_url)
        self._http.timeout = httpx.Timeout(timeout)
        self._http.headers.update(self._default_headers())

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _send(
        self, options: RequestOptions, *, stream: bool = False
    ) -> tuple[httpx.Response, ResponseInfo]:
        """The successful answer, after retries. With `stream`, its body is not read yet:
        the caller reads it and closes the response."""
        retries = 0
        lost_answer = False
        while True:
            outcome: httpx.Response | Exception
            request = self._build_request(self._http, options)
            try:
                outcome = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                outcome = exc
            if isinstance(outcome, httpx.Response) and outcome.is_success:
                return outcome, self._info(outcome, options, retries)
            if isinstance(outcome, httpx.Response) and stream:
                try:
                    await outcome.aread()  # the problem document; this closes it
                except httpx.TransportError as exc:
                    outcome = exc
            delay = self._next_delay(options, retries, outcome)
            if delay is None:
                raise self._failure(options, outcome, lost_answer) from (
                    outcome if isinstance(outcome, Exception) else None
                )
            lost_answer = lost_answer or isinstance(outcome, Exception)
            await self._sleep(delay)
            retries += 1

    async def _object(self, model: type[ModelT], options: RequestOptions) -> ModelT:
        response, info = await self._send(options)
        return parse_object(model, response, info)

    async def _page(self, model: type[ModelT], options: RequestOptions) -> Page[ModelT]:
        response, info = await self._send(options)
        return parse_page(model, response, info)
