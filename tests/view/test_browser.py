"""The viewer in a real headless chromium: what a person clicks and what they then see.

Set GYMKIT_VIEWER_SCREENSHOTS=DIR to keep a PNG of each view (docs/viewer/ is made that way).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not (Path(CHROMIUM).is_file() or shutil.which("chromium")):
        return "chromium is not installed (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        executable = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
        b = p.chromium.launch(executable_path=executable, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, view_url: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    # Nothing may leave the machine: any request to another origin fails the test.
    pg.on("request", lambda r: problems.append(f"request to {r.url}") if not r.url.startswith(view_url) else None)
    pg.goto(view_url)
    pg.wait_for_selector("body[data-indexed=yes][data-ready=list]")
    yield pg
    context.close()
    assert problems == [], problems  # CSP violations and script errors show up here


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("GYMKIT_VIEWER_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False)


def _hash(page: Any, part: str) -> None:
    # Polled from here: a string handed to wait_for_function is eval'd in the page, which its CSP forbids.
    deadline = time.monotonic() + 10
    while part not in page.url:
        assert time.monotonic() < deadline, f"{part!r} never reached the URL ({page.url})"
        page.wait_for_timeout(20)


def _ready(page: Any, view: str) -> None:
    page.wait_for_selector(f"body[data-ready={view}]")


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _rewards(page: Any) -> list[str]:
    return page.locator("#rows tbody tr td:nth-child(3)").all_inner_texts()


def test_the_list_pages_and_filters(page: Any) -> None:
    assert page.locator("#count").inner_text() == "1–50 of 240"  # 237 rows and 3 failed attempts
    assert page.locator("#rows tbody tr").count() == 50
    _shot(page, "list")
    page.select_option("#f-outcome", "fail")
    _hash(page, "outcome=fail")
    _ready(page, "list")
    rewards = _rewards(page)
    assert rewards and all(float(r) < 1 for r in rewards)
    page.select_option("#f-flag", "tool_error")
    _hash(page, "tool_error")
    _ready(page, "list")
    chips = page.locator("#rows tbody tr td:nth-child(5)").all_inner_texts()
    assert chips and all("tool_error" in c for c in chips)
    page.click("text=clear")
    # Type into the list the clear drew, as a person would, not the one it is replacing.
    expect(page.locator("#count")).to_have_text("1–50 of 240")
    page.fill("#f-q", "Oslo")
    page.press("#f-q", "Enter")
    _hash(page, "q=Oslo")
    _ready(page, "list")
    prompts = page.locator("#rows tbody tr td:nth-child(6)").all_inner_texts()
    assert prompts and all("Oslo" in p for p in prompts)
    page.click("text=clear")
    page.select_option("#f-outcome", "failure")
    _hash(page, "failure")
    expect(page.locator("#count")).to_have_text("1–3 of 3")
    assert all(r == "model_error" for r in _rewards(page))


def test_a_filter_chosen_while_clear_is_loading_starts_from_nothing(page: Any) -> None:
    # Hold the list's requests so the two views load out of order: the form the click on "clear"
    # is replacing stays on screen, and its answer arrives after the later filter's.
    held: list[Any] = []
    page.fill("#f-q", "Oslo")
    page.press("#f-q", "Enter")
    _hash(page, "q=Oslo")
    # The Oslo list drawn, not the one before it still marked ready: its request is not held below.
    expect(page.locator("#rows tbody tr td:nth-child(6)").first).to_contain_text("Oslo")
    page.route("**/api/rows?*", lambda route: held.append(route))
    page.click("text=clear")
    page.select_option("#f-outcome", "failure")
    _hash(page, "outcome=failure")
    assert "Oslo" not in page.url
    deadline = time.monotonic() + 10
    while len(held) < 2:
        assert time.monotonic() < deadline, f"{len(held)} list request(s) made, 2 expected"
        page.wait_for_timeout(20)
    cleared, chosen = held
    assert "outcome=failure" in chosen.request.url and "outcome" not in cleared.request.url
    chosen.continue_()
    expect(page.locator("#count")).to_have_text("1–3 of 3")
    with page.expect_response(cleared.request.url):
        cleared.continue_()
    page.wait_for_timeout(300)  # what a late draw would take; it must not happen
    expect(page.locator("#count")).to_have_text("1–3 of 3")


def test_three_clicks_from_the_groups_to_why_a_rollout_scored_0(page: Any) -> None:
    page.click("#nav a[data-view=groups]")  # 1
    _ready(page, "groups")
    first = page.locator("#groups a.group").first
    assert "mixed" in first.inner_text()  # mixed groups first: those are what GRPO learns from
    _shot(page, "groups")
    first.click()  # 2
    _ready(page, "group")
    cards = page.locator("#samples a.sample")
    assert cards.count() >= 2
    assert "GRPO learns from the differences" in page.locator("main").inner_text()
    _shot(page, "group")
    zero = page.locator("#samples a.sample", has=page.locator(".reward.r-zero")).first
    zero.click()  # 3
    _ready(page, "row")
    assert page.locator("#reward").inner_text() == "0"
    roles = page.locator("#conversation .role").all_inner_texts()
    assert roles[:2] == ["SYSTEM", "USER"] or roles[:2] == ["system", "user"]
    text = page.locator("main").inner_text()
    assert "get_weather" in text and "verify returned" in text.lower()
    # The why: verify's own fields beside the reward, the false one marked.
    assert "facts_correct" in page.locator("dl.verify").first.inner_text()
    _shot(page, "rollout")


def test_long_text_is_folded_and_unfolds(page: Any) -> None:
    page.select_option("#f-flag", "truncated")
    _hash(page, "truncated")
    _ready(page, "list")
    page.locator("#rows tbody tr").first.click()
    _ready(page, "row")
    final = page.locator("#conversation .turn.final")
    assert final.locator("pre").inner_text().endswith("…")
    button = final.locator("button.fold")
    assert "show all (3" in button.inner_text()
    folded = len(final.locator("pre").inner_text())
    button.click()
    assert len(final.locator("pre").inner_text()) > folded > 1000
    assert "max_output_tokens" in page.locator(".panel").inner_text()


def test_hostile_rollout_text_is_shown_as_text(page: Any) -> None:
    page.fill("#f-q", "onerror")
    page.press("#f-q", "Enter")
    _hash(page, "q=onerror")
    _ready(page, "list")
    page.locator("#rows tbody tr").first.click()
    _ready(page, "row")
    assert "<script>" in page.locator("#conversation").inner_text()
    assert page.locator("#conversation img, #conversation script").count() == 0
    assert page.evaluate("document.body.dataset.pwned") is None


def test_figures_lead_to_the_rollouts_behind_them(page: Any) -> None:
    page.click("#nav a[data-view=figures]")
    _ready(page, "figures")
    _shot(page, "figures")
    page.click("#fig-hist rect.hit[data-bin='0']")
    _ready(page, "list")
    rewards = _rewards(page)
    assert rewards and all(float(r) == 0 for r in rewards)
    page.go_back()
    _ready(page, "figures")
    page.click("#fig-passk circle[data-k='1']")
    _ready(page, "groups")
    assert "pass@1 below 1" in page.locator("main").inner_text()
    page.go_back()
    _ready(page, "figures")
    page.click("#fig-calls rect.cell:not(.empty) >> nth=0")
    _ready(page, "list")
    assert "calls=" in page.url


def test_two_files_compared_with_their_flips(page: Any) -> None:
    page.click("#nav a[data-view=compare]")
    _ready(page, "compare")
    assert "significant" in page.locator("#verdict").inner_text()
    _shot(page, "compare")
    links = page.locator("#flips a")
    assert links.count() > 0
    links.first.click()
    _ready(page, "row")
    assert page.locator("#conversation").count() == 1
