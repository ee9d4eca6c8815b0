"""Mounts the domain routers under /v1; every route here is an ApiRoute (authenticated)."""

from fastapi import APIRouter

from threads_api.api_key.endpoints import router as api_keys_router
from threads_api.event.endpoints import router as events_router
from threads_api.message import direct as message_direct_routes
from threads_api.message.endpoints import router as messages_router
from threads_api.message.endpoints import thread_start_router
from threads_api.routing import ApiRoute
from threads_api.space.endpoints import router as spaces_router
from threads_api.thread.endpoints import router as threads_router
from threads_api.webhook.endpoints import router as webhooks_router

router = APIRouter(prefix="/v1", route_class=ApiRoute)
router.include_router(spaces_router)
# Before the threads router: in `/threads/messages`, "messages" is not a thread id.
router.include_router(thread_start_router)
router.include_router(threads_router)
router.include_router(messages_router)
router.include_router(api_keys_router)
router.include_router(events_router)
router.include_router(webhooks_router)
# The message routes the request middleware also serves itself (ADR 0012).
message_direct_routes.register()
