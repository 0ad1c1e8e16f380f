"""Headless Chromium from Debian (`chromium`, `chromium-driver`), driven by Selenium: no browser download.

Every host but the loopback resolves to nothing, so a page that reached for a CDN or a web font
would show it as a failed load in the console."""
from __future__ import annotations

import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.remote.webelement import WebElement

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"  # test artefacts


def chromium() -> webdriver.Chrome:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (browser and driver):
        raise RuntimeError("the page tests need Debian's chromium and chromium-driver: "
                           "sudo apt-get install chromium chromium-driver (make test does it when root)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1400", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """The console's errors since the last call (failed loads included)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def draw(driver: webdriver.Chrome, canvas: WebElement, strokes: list[list[tuple[int, int]]]) -> None:
    """Replay strokes (points in the canvas' own pixels, from its top left) as real pointer input."""
    width, height = canvas.size["width"], canvas.size["height"]
    for stroke in strokes:
        actions = ActionChains(driver, duration=10)
        (x, y), rest = stroke[0], stroke[1:]
        actions.move_to_element_with_offset(canvas, x - width // 2, y - height // 2).click_and_hold()
        for next_x, next_y in rest:
            steps = max(1, max(abs(next_x - x), abs(next_y - y)) // 8)
            start_x, start_y = x, y
            for step in range(1, steps + 1):  # small moves: every one is a pointermove the page draws
                to_x = start_x + round((next_x - start_x) * step / steps)
                to_y = start_y + round((next_y - start_y) * step / steps)
                actions.move_by_offset(to_x - x, to_y - y)
                x, y = to_x, to_y
        actions.release().perform()


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
