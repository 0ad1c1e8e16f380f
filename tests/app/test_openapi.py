"""The OpenAPI document is valid and matches the app's routes; the docs page works offline."""
from __future__ import annotations

import re

from openapi_spec_validator import validate


def test_document_is_valid_openapi_3(client):
    document = client.get("/openapi.json").json
    validate(document)
    assert document["openapi"].startswith("3.")


def test_document_matches_the_routes(app, client):
    documented = set(client.get("/openapi.json").json["paths"])
    # Flask rule "/v1/models/<name>/versions/<version>:predict" -> "/v1/models/{model}/versions/{version}:predict"
    routed = {re.sub(r"<name>", "{model}", re.sub(r"<version>", "{version}", rule.rule))
              for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    routed -= {"/openapi.json", "/docs", "/docs/static/<path:filename>", "/", "/ui/<path:filename>"}  # pages
    assert documented == routed


def test_model_names_are_enumerated(client):
    document = client.get("/openapi.json").json
    parameter = document["paths"]["/v2/models/{model}"]["get"]["parameters"][0]
    assert {"mnist", "efficientnet_lite0", "sentiment"} <= set(parameter["schema"]["enum"])


def test_swagger_ui_is_served_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200 and b"/openapi.json" in page.data
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        response = client.get(f"/docs/static/{asset}")
        assert response.status_code == 200 and len(response.data) > 10_000
    assert client.get("/docs/static/../../etc/passwd").status_code == 404


def test_the_web_page_and_its_modules_are_served_offline(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b'<script type="module" src="/ui/page.js">' in page.data and b"http" not in page.data
    for module in ("page.js", "api.js", "results.js", "tryers.js"):
        response = client.get(f"/ui/{module}")
        assert response.status_code == 200 and "javascript" in response.mimetype  # a module needs a JS type
        assert b"https://" not in response.data and b"http://" not in response.data
    missing = client.get("/ui/../app.py")
    assert missing.status_code == 404 and "error" in missing.json
