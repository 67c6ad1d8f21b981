from __future__ import annotations

from playwright.sync_api import Page, expect


def test_swagger_ui_renders_the_openapi_document_from_vendored_files(
    live_server: str, page: Page
) -> None:
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url) if not request.url.startswith(live_server) else None
        ),
    )
    page.goto(live_server + "/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("carepath API")
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    expect(page.get_by_text("/api/v1/plans/{plan_id}", exact=True).first).to_be_attached()
    assert outside == [], "the API docs must not load anything from outside the app"
