"""The web page at / in a real browser (headless Chromium) against a real gunicorn server: it loads
with no console errors and nothing fetched from anywhere else, a "7" drawn on the canvas is read as
7, a real photo gets the class the API gives it, a detector's boxes are drawn, a sentence gets a
sentiment, two texts a similarity, and a wrong API key shows the server's 401 message.
Screenshots land in build/screenshots/."""
from __future__ import annotations

import shutil

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.e2e.browser import chromium, console_errors, draw, screenshot
from tests.e2e.server import Server
from training.samples import write

SERVED = ("efficientnet_lite0", "minilm", "mnist", "nanodet", "sentiment", "yolov3")
SEVEN = [[(60, 60), (220, 60), (130, 240)]]  # the top bar, then down to the left: one stroke
KEY = "page-test-key"


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    directory = tmp_path_factory.mktemp("page-samples")
    write(directory)
    return directory


@pytest.fixture(scope="module")
def browser():
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(browser, server):
    browser.get(server.url + "/")
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#models tbody tr")) >= len(SERVED))
    return browser


def wait(driver, seconds: float = 30) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def try_model(driver, name: str, version: str = ""):
    driver.find_element(By.CSS_SELECTOR, f'#models tr[data-model="{name}"] button').click()
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "#try h2").text == f"Try {name}")
    Select(driver.find_element(By.ID, "version")).select_by_value(version)


def answer(driver) -> str:
    """The result area's text, once the server's answer (or refusal) is in it."""
    def shown(d):
        result = d.find_element(By.ID, "result")
        return result.text if result.find_elements(By.CSS_SELECTOR, ".answered, .error") else False
    return wait(driver).until(shown)


def top(driver) -> str:
    answer(driver)
    return driver.find_element(By.CSS_SELECTOR, "#result .top").text


def test_the_page_lists_every_model_with_no_console_errors(page, server):
    rows = {row.get_attribute("data-model"): row.text for row in page.find_elements(By.CSS_SELECTOR, "#models tbody tr")}
    assert set(SERVED) <= set(rows)
    assert "test accuracy" in rows["mnist"] and "trained here from scratch" in rows["mnist"]
    assert "1 (default)" not in rows["mnist"] and "2 (default): ready" in rows["mnist"]
    assert "int8 vs fp32" in rows["efficientnet_lite0"] and "test accuracy" in rows["sentiment"]
    assert all("ready" in text or "unavailable: " in text for text in rows.values())  # a model not built says why
    assert page.find_element(By.ID, "health").text == "ready"
    screenshot(page, "page")
    assert console_errors(page) == []
    loaded = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(server.url + "/") for url in loaded), loaded


def test_a_seven_drawn_on_the_canvas_is_read_as_7(page):
    try_model(page, "mnist")
    draw(page, page.find_element(By.CSS_SELECTOR, "canvas.pad"), SEVEN)
    assert top(page) == "7"
    assert "answered by mnist version 2" in answer(page)
    screenshot(page, "digit")


def test_the_version_picker_asks_that_version(page):
    try_model(page, "mnist", version="1")
    draw(page, page.find_element(By.CSS_SELECTOR, "canvas.pad"), SEVEN)
    assert top(page) == "7" and "answered by mnist version 1" in answer(page)


def test_a_photo_gets_the_class_the_api_gives(page, server, samples):
    expected = requests.post(server.url + "/v1/models/efficientnet_lite0:predict", data=(samples / "cat.png").read_bytes(),
                             headers={"Content-Type": "image/png"}, timeout=30).json()["predictions"][0]["label"]
    assert "cat" in expected
    try_model(page, "efficientnet_lite0")
    page.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(samples / "cat.png"))
    assert top(page) == expected
    assert len(page.find_elements(By.CSS_SELECTOR, "#result .bars li")) == 5
    screenshot(page, "photo")


def test_a_detector_draws_its_boxes(page, samples):
    try_model(page, "nanodet")
    page.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(samples / "bus.jpg"))
    found = answer(page)
    assert "bus" in found and "person" in found
    assert page.find_element(By.CSS_SELECTOR, "#result canvas.photo").size["width"] > 300
    screenshot(page, "detector")


def test_a_sentence_gets_a_sentiment(page):
    try_model(page, "sentiment")
    page.find_element(By.NAME, "text").send_keys("Flight cancelled again and nobody at the desk could tell us why.")
    page.find_element(By.XPATH, "//button[text()='Classify']").click()
    assert top(page) == "negative"
    assert len(page.find_elements(By.CSS_SELECTOR, "#result .bars li")) == 3
    screenshot(page, "sentiment")


def test_two_texts_get_a_similarity(page):
    try_model(page, "minilm")
    page.find_element(By.XPATH, "//button[text()='Compare']").click()
    answer(page)
    assert 0.3 < float(page.find_element(By.CSS_SELECTOR, "#result .score").text) <= 1
    screenshot(page, "similarity")


def test_a_model_card_opens_from_the_list(page):
    page.find_element(By.XPATH, "//tr[@data-model='mnist']//button[text()='Card']").click()
    frame = wait(page).until(lambda d: d.find_element(By.CSS_SELECTOR, "#try iframe.card"))
    page.switch_to.frame(frame)
    try:
        wait(page).until(lambda d: "Confusion matrix" in d.find_element(By.TAG_NAME, "body").text)
        assert page.find_element(By.TAG_NAME, "h1").text == "mnist version 2"
        assert len(page.find_elements(By.TAG_NAME, "svg")) == 3
    finally:
        page.switch_to.default_content()
    page.execute_script("document.querySelector('#try iframe').scrollIntoView()")
    screenshot(page, "card")


def test_a_refused_input_shows_the_servers_message(page, samples):
    try_model(page, "efficientnet_lite0")
    page.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(samples / "review.txt"))
    shown = answer(page)
    assert shown.startswith("400: ") or shown.startswith("415: "), shown
    console_errors(page)  # the refusal's failed load, expected


@pytest.fixture(scope="module")
def keyed_server(built_models, tmp_path_factory):
    """A server with an API key (MNIST alone, one worker: it starts in seconds)."""
    directory = tmp_path_factory.mktemp("page-keyed")
    shutil.copytree(built_models / "mnist", directory / "models" / "mnist")
    (directory / "metrics").mkdir()
    running = Server(directory / "models", directory / "metrics", directory / "gunicorn.log", workers=1,
                     AXON_API_KEYS=KEY)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_a_wrong_api_key_shows_the_401_message_and_the_right_one_works(browser, keyed_server):
    browser.get(keyed_server.url + "/")
    notice = wait(browser).until(lambda d: d.find_element(By.ID, "models-notice").text)
    assert notice == "401: missing or invalid API key: send 'Authorization: Bearer <key>'"
    field = browser.find_element(By.ID, "api-key")
    field.send_keys("not-the-key\n")
    wait(browser).until(lambda d: d.find_element(By.ID, "models-notice").text.startswith("401: "))
    screenshot(browser, "wrong-key")
    field.clear()
    field.send_keys(KEY + "\n")
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#models tr[data-model="mnist"]'))
    assert browser.find_element(By.ID, "models-notice").text == ""
    draw(browser, browser.find_element(By.CSS_SELECTOR, "canvas.pad"), SEVEN)
    assert top(browser) == "7"
    assert all("401" in message for message in console_errors(browser))  # only the refused loads
