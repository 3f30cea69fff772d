"""The web page (local/web/index.html) in headless Chromium against the local request path.

Every answer the page shows is checked against the API's own answer to the same JSON.
"""

from __future__ import annotations

import io
import re
import urllib.request
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from local.client import ApiClient
from tests.web.conftest import MAX_CHARS, Site, open_page, wait_for


def get_json(site: Site, path: str) -> Any:
    client = ApiClient(site.url)
    try:
        status, body = client.get(path)
    finally:
        client.close()
    assert status == 200, body
    return body


def api_predict(site: Site, document: dict[str, Any]) -> tuple[int, Any]:
    client = ApiClient(site.url)
    try:
        status, _, body, _ = client.predict(document)
    finally:
        client.close()
    return status, body


def control(driver: Any, field: str) -> Any:
    return driver.find_element(By.CSS_SELECTOR, f'[data-field="{field}"] .control')


def result_or_message(driver: Any) -> str:
    """'result' or 'message', whichever the page shows first."""
    def shown() -> str | None:
        for element_id in ("result", "message"):
            if driver.find_element(By.ID, element_id).is_displayed():
                return element_id
        return None

    return str(wait_for(shown, "a prediction or an error line"))


def fill_first_row(driver: Any) -> None:
    """Click "Fill from a test row" on a freshly loaded page: the split's first row."""
    driver.find_element(By.ID, "fill").click()
    wait_for(lambda: "Test row 1 of" in driver.find_element(By.ID, "status").text, "the test row")


@pytest.fixture(params=["numeric", "reviews"])
def site(request: pytest.FixtureRequest) -> Site:
    return request.getfixturevalue(f"{request.param}_site")  # type: ignore[no-any-return]


def test_the_form_shows_one_control_per_raw_field(browser: Any, site: Site) -> None:
    spec = get_json(site, "/spec")
    variants = [name for name, _, _ in site.config.handler_variants]
    union = {n for _, _, s in site.config.handler_variants for n in s.field_names}
    assert [v["name"] for v in spec["variants"]] == variants
    assert {f["name"] for f in spec["fields"]} == union
    open_page(browser, site.url)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#field-grid .control")) == len(spec["fields"])
    for field in spec["fields"]:
        (box,) = browser.find_elements(By.CSS_SELECTOR, f'[data-field="{field["name"]}"]')
        element = box.find_element(By.CLASS_NAME, "control")
        label = box.find_element(By.TAG_NAME, "label")
        assert label.get_attribute("for") == element.get_attribute("id")
        assert label.text.startswith(field["name"])
        if field["kind"] == "numeric":
            assert (element.tag_name, element.get_attribute("type")) == ("input", "number")
        elif field["kind"] == "categorical":
            assert (element.tag_name, element.get_attribute("type")) == ("input", "text")
            options = box.find_elements(By.CSS_SELECTOR, f'datalist#{element.get_attribute("list")} option')
            assert [o.get_attribute("value") for o in options] == field["categories"]
        else:
            assert element.tag_name == "textarea"
        # A field only some variants read says which.
        readers = field["variants"]
        assert box.get_attribute("data-variants").split() == readers
        partial = box.find_elements(By.CLASS_NAME, "only")
        assert (len(partial) == 1) == (len(readers) < len(variants))
        if partial:
            assert partial[0].text == ", ".join(readers) + " only"
    if site.name == "reviews":  # variants with different fields: the union, marked
        kinds = {f["name"]: f["kind"] for f in spec["fields"]}
        assert kinds == {"review": "text", "genre": "categorical", "runtime": "numeric"}
        assert control(browser, "runtime").find_element(By.XPATH, "..").find_element(
            By.CLASS_NAME, "only").text == "challenger only"


def test_a_held_out_row_shows_the_prediction_the_api_returns(browser: Any, site: Site) -> None:
    open_page(browser, site.url)
    fill_first_row(browser)
    example = get_json(site, "/example?index=0")
    for name, value in example["row"].items():
        shown = control(browser, name).get_attribute("value")
        if value is None:
            assert shown == ""
        elif isinstance(value, float):
            assert float(shown) == value
        else:
            assert shown == value
    key = "web-user-7"
    browser.find_element(By.ID, "assignment-key").send_keys(key)
    browser.find_element(By.ID, "predict").click()
    assert result_or_message(browser) == "result", browser.find_element(By.ID, "message").text
    status, body = api_predict(site, {"instances": [example["row"]], "assignment_key": key})
    assert status == 200, body
    shown = browser.find_element(By.ID, "prediction")
    assert float(shown.get_attribute("data-value")) == body["predictions"][0]
    served = browser.find_element(By.ID, "served-by")
    assert served.get_attribute("data-variant") == body["variant"]
    assignment = browser.find_element(By.ID, "assignment")
    assert assignment.get_attribute("data-assignment") == "keyed"
    assert f"“{key}” lands in {body['variant']}" in assignment.text
    assert "Held-out label of test row 1" in browser.find_element(By.ID, "label").text


def test_compare_shows_every_variant_side_by_side(browser: Any, site: Site) -> None:
    open_page(browser, site.url)
    fill_first_row(browser)
    row = get_json(site, "/example?index=0")["row"]
    browser.find_element(By.ID, "compare").click()
    names = [name for name, _, _ in site.config.handler_variants]

    def answered() -> list[Any] | None:
        cards = browser.find_elements(By.CSS_SELECTOR, "#cards .card")
        done = len(cards) == len(names) and all(c.get_attribute("data-status") for c in cards)
        return cards if done else None

    cards = wait_for(answered, "an answer from every variant")
    assert [c.get_attribute("data-variant") for c in cards] == names
    for card, name in zip(cards, names, strict=True):
        status, body = api_predict(site, {"instances": [row], "target_variant": name})
        assert card.get_attribute("data-status") == ("ok" if status == 200 else str(status))
        assert float(card.get_attribute("data-ms")) > 0
        assert " ms · weight " in card.find_element(By.CLASS_NAME, "meta").text
        if status == 200:
            value = card.find_element(By.CLASS_NAME, "value")
            assert float(value.get_attribute("data-value")) == body["predictions"][0]
        else:  # the numeric deployment's broken variant: one readable line, no JSON
            line = card.find_element(By.CLASS_NAME, "error").text
            assert f"(HTTP {status} {body['error']['code']})" in line
            assert "{" not in line and "\n" not in line
    # Cards sit side by side on a wide screen.
    tops = {card.rect["y"] for card in cards}
    assert len(tops) < len(cards)


@pytest.mark.parametrize(("field", "value", "code"), [
    ("review", "a fine film " * (MAX_CHARS // 12 + 5), "text_too_long"),
    ("genre", "western", "unseen_category"),
])
def test_a_refused_value_is_shown_at_its_field(browser: Any, reviews_site: Site, field: str,
                                                value: str, code: str) -> None:
    open_page(browser, reviews_site.url)
    fill_first_row(browser)
    element = control(browser, field)
    browser.execute_script("arguments[0].value = arguments[1];"
                           "arguments[0].dispatchEvent(new Event('input'));", element, value)
    row = {name: browser.execute_script("return arguments[0].value", control(browser, name))
           for name in ("review", "genre")}
    row["runtime"] = float(control(browser, "runtime").get_attribute("value"))
    status, body = api_predict(reviews_site, {"instances": [row], "target_variant": "challenger"})
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, code, field)
    Select(browser.find_element(By.ID, "variant")).select_by_value("challenger")
    browser.find_element(By.ID, "predict").click()
    assert result_or_message(browser) == "message"
    error = browser.find_element(By.ID, f"{element.get_attribute('id')}-error")
    assert error.is_displayed()
    expected = body["error"]["message"].removeprefix("instances[0].")
    assert error.text == expected
    assert element.get_attribute("aria-invalid") == "true"
    assert f"{element.get_attribute('id')}-error" in element.get_attribute("aria-describedby").split()
    assert browser.switch_to.active_element == element  # focus goes to the field at fault
    message = browser.find_element(By.ID, "message").text
    assert f"the field {field} (HTTP 400 {code})" in message and "{" not in message
    # Other fields carry no error; editing the field clears its own.
    others = [e for e in browser.find_elements(By.CSS_SELECTOR, ".field-error") if e.is_displayed()]
    assert others == [error]
    element.send_keys("x")
    assert not error.is_displayed()


def test_a_value_that_is_not_a_number_stays_in_the_page(browser: Any, numeric_site: Site) -> None:
    open_page(browser, numeric_site.url)
    first = browser.find_element(By.CSS_SELECTOR, "#field-grid .control")
    first.send_keys("1e")  # a number input holds it, but its value is no number (badInput)
    browser.find_element(By.ID, "predict").click()
    error = browser.find_element(By.ID, f"{first.get_attribute('id')}-error")
    wait_for(error.is_displayed, "the field's error")
    assert error.text.endswith("is not a number")
    assert not browser.find_element(By.ID, "result").is_displayed()


def test_other_errors_are_one_readable_line(browser: Any, numeric_site: Site) -> None:
    """The broken variant (its model cannot load) answers 502: shown as a sentence."""
    open_page(browser, numeric_site.url)
    fill_first_row(browser)
    Select(browser.find_element(By.ID, "variant")).select_by_value("broken")
    browser.find_element(By.ID, "predict").click()
    assert result_or_message(browser) == "message"
    row = get_json(numeric_site, "/example?index=0")["row"]
    status, body = api_predict(numeric_site, {"instances": [row], "target_variant": "broken"})
    line = browser.find_element(By.ID, "message").text
    assert line.startswith(f"The model or its endpoint failed (HTTP {status} {body['error']['code']}): ")
    assert body["error"]["message"] in line
    assert "{" not in line and "\n" not in line
    assert not [e for e in browser.find_elements(By.CSS_SELECTOR, ".field-error") if e.is_displayed()]


def test_keyboard_only_submit(browser: Any, numeric_site: Site, reviews_site: Site) -> None:
    open_page(browser, numeric_site.url)
    ActionChains(browser).send_keys(Keys.TAB).perform()  # the first field is the first stop
    first = browser.find_element(By.CSS_SELECTOR, "#field-grid .control")
    assert browser.switch_to.active_element == first
    browser.switch_to.active_element.send_keys("0.04")
    for _ in range(40):  # Tab through the form to the Predict button, then Enter
        if browser.switch_to.active_element.get_attribute("id") == "predict":
            break
        browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "predict"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    assert result_or_message(browser) == "result", browser.find_element(By.ID, "message").text
    names = [f.name for f in numeric_site.config.input_spec.fields]
    status, body = api_predict(numeric_site, {"instances": [{n: (0.04 if i == 0 else None)
                                                             for i, n in enumerate(names)}],
                                              "target_variant": browser.find_element(
                                                  By.ID, "served-by").get_attribute("data-variant")})
    assert status == 200
    assert float(browser.find_element(By.ID, "prediction").get_attribute("data-value")) == \
        body["predictions"][0]
    # Enter in a number field submits too (the form's implicit submission), and Ctrl+Enter in a
    # text area (where Enter is a line break).
    open_page(browser, reviews_site.url)
    text = control(browser, "review")
    text.send_keys("A witty and moving film.")
    text.send_keys(Keys.CONTROL, Keys.ENTER)
    assert result_or_message(browser) == "result", browser.find_element(By.ID, "message").text


def test_the_page_is_self_contained(browser: Any, reviews_site: Site) -> None:
    with urllib.request.urlopen(reviews_site.url + "/", timeout=10) as response:
        html = response.read().decode()
        policy = response.headers["Content-Security-Policy"] or ""
    assert "<script>" in html and "<style>" in html
    # Nothing is loaded from elsewhere: no script or style file, no font, no image but data: URLs.
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", html)
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    browser.get_log("browser")  # drop what earlier tests logged
    open_page(browser, reviews_site.url)
    origins = browser.execute_script("return performance.getEntriesByType('resource')"
                                     ".map(function (e) { return new URL(e.name).origin; })")
    assert set(origins) <= {reviews_site.url}
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors  # no CSP violation, no script error


def test_a_screenshot_is_not_blank_on_a_wide_and_a_narrow_screen(browser: Any, reviews_site: Site,
                                                                  tmp_path: Any) -> None:
    from PIL import Image

    for width, height in ((1200, 900), (390, 844)):  # a laptop, a phone
        open_page(browser, reviews_site.url, width, height)
        fill_first_row(browser)
        browser.find_element(By.ID, "compare").click()
        wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#cards .card[data-status]")) == 2,
                 "both variants' answers")
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"), \
            f"the page scrolls sideways at {width} px"
        png = browser.get_screenshot_as_png()
        (tmp_path / f"page-{width}.png").write_bytes(png)
        image = Image.open(io.BytesIO(png)).convert("RGB")
        colours = image.getcolors(maxcolors=1 << 20) or []
        most = max(count for count, _ in colours)
        assert len(colours) >= 64, f"{len(colours)} colours at {width} px: a blank page?"
        assert most / (image.width * image.height) < 0.9, "one colour covers the page"

