"""Model cards over HTTP: the HTML page and the Markdown of a version, linked from its metadata;
a version without a card is a clear 404, not a 500."""
from __future__ import annotations

import shutil

from service.app import create_app
from service.settings import Settings


def test_every_served_version_links_its_card_and_serves_it(client):
    for name in ("mnist", "sentiment", "efficientnet_lite0", "minilm"):
        for version in client.get(f"/v2/models/{name}").json["versions"]:
            link = client.get(f"/v2/models/{name}/versions/{version}").json["parameters"]["card"]
            assert link == f"/v2/models/{name}/versions/{version}/card"
            page = client.get(link)
            assert page.status_code == 200 and page.mimetype == "text/html"
            assert f"<h1>{name} version {version}</h1>".encode() in page.data and b"<h2>Known limits</h2>" in page.data
            markdown = client.get(link + ".md")
            assert markdown.status_code == 200 and markdown.mimetype == "text/markdown"
            assert markdown.data.startswith(f"# {name} version {version}\n".encode())


def test_a_classifier_card_shows_its_plots_inline(client):
    page = client.get("/v2/models/mnist/card").data.decode()
    assert page.count("<svg") == 3 and "Confusion matrix" in page and "Reliability diagram" in page
    assert "<img" not in page  # one request shows it all, whatever the API key


def test_a_version_without_a_card_is_a_404_that_says_how_to_make_one(built_models, tmp_path):
    shutil.copytree(built_models / "mnist", tmp_path / "mnist")
    for file in ("card.html", "card.md"):
        (tmp_path / "mnist" / "1" / file).unlink()
    client = create_app(Settings(model_dir=tmp_path, reload_interval_s=0)).test_client()
    response = client.get("/v2/models/mnist/versions/1/card")
    assert response.status_code == 404 and "python -m training.cards" in response.json["error"]
    assert "card" not in client.get("/v2/models/mnist/versions/1").json["parameters"]
    assert client.get("/v2/models/nope/card").status_code == 404
