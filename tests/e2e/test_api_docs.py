"""The API documentation works on a machine without internet: every asset comes from the service
itself, "Authorize" takes a key, and a call made from the page succeeds."""

from urllib.parse import urlparse

from playwright.sync_api import Page, expect


def test_docs_render_offline_and_authorize_works(page: Page, kb_service):
    outside: list[str] = []

    def only_local(route) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    listing = page.locator(
        ".opblock-get", has=page.locator(".opblock-summary-path[data-path='/v1/datasets']")
    )
    expect(listing).to_have_count(1)
    page.click("button.authorize")
    page.locator(".auth-container input").fill(kb_service.key)
    page.locator(".auth-btn-wrapper button.authorize").click()
    page.locator(".auth-btn-wrapper button.btn-done").click()
    listing.locator(".opblock-summary").click()
    listing.locator("button.try-out__btn").click()
    listing.locator("button.execute").click()
    expect(listing.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    assert outside == []


def test_the_openapi_document_lists_the_real_errors(page: Page, kb_service):
    document = page.request.get("/openapi.json").json()
    bearer = document["components"]["securitySchemes"]["bearer"]
    assert bearer["type"] == "http" and bearer["scheme"] == "bearer"
    operations = [(path, op) for path, ops in document["paths"].items() for op in ops.values()]
    assert not [path for path, op in operations if "422" in op["responses"]]
    upload = document["paths"]["/v1/datasets/{dataset_id}/document/create-by-file"]["post"]["responses"]
    assert {"400", "401", "403", "404", "413"} <= set(upload)
    assert upload["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    external = document["paths"]["/retrieval"]["post"]["responses"]
    assert external["403"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExternalError"
    }
    assert "security" not in document["paths"]["/health"]["get"]
