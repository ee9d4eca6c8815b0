"""/docs: Swagger UI 5, served by the app itself, so the page works with no network.

Swagger UI 4 cannot read OpenAPI 3.1 (it shows "Unable to render this definition"); our
document is 3.1, so the assets come from swagger-ui-bundle-v2, which ships swagger-ui-dist 5.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

# The package has no py.typed marker.
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # ships no types

ASSETS_URL = "/docs/assets"


def mount_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """GET /docs, and the Swagger UI files under /docs/assets."""
    assets = Path(str(swagger_ui_path))
    app.mount(ASSETS_URL, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=app.title,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
            # No badge from the public validator: it would send the document's URL off-site.
            swagger_ui_parameters={"validatorUrl": None},
        )
