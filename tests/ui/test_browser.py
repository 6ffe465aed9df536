"""A real browser against the running Streamlit app: ask, see the answer highlighted in its
evidence; ask a follow-up, see the rewrite and the answer; hostile text stays text."""

from __future__ import annotations

import os

import httpx
import pytest

pytestmark = pytest.mark.server


def ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")


def test_ask_then_follow_up_in_the_browser(ui_stack, page) -> None:
    page.goto(f"{ui_stack['ui']}/?route=webqa")
    page.get_by_test_id("stChatInputTextArea").wait_for()
    ask(page, "When did Nikola Tesla die?")
    first = page.locator("mark.qa-span").first
    first.wait_for()
    assert "1943" in first.inner_text()
    evidence = page.locator(".qa-evidence").first.inner_text()
    assert "Nikola Tesla was a Serbian-American inventor" in evidence and "1943" in evidence
    assert "route: webqa" in page.locator(".qa-meta").last.inner_text()

    ask(page, "Where was he born?")
    rewrite = page.locator(".qa-rewrite").first
    rewrite.wait_for()
    assert rewrite.inner_text() == "understood as: Where was Nikola Tesla born?"
    page.locator("mark.qa-span").nth(1).wait_for()
    second_turn = page.locator("mark.qa-span").all_inner_texts()
    assert any("Smiljan" in t for t in second_turn), second_turn
    shot = os.environ.get("QA_UI_SCREENSHOT")
    if shot:
        page.screenshot(path=shot, full_page=True)


def test_hostile_passage_text_is_shown_as_text(ui_stack, page) -> None:
    text = ("The manual is at http://example.com/" + "m" * 400 + " and "  # one long unbroken token
            "the vault code is <b>orange</b> <script>window.pwned=1</script> and "
            "the guard of the vault is [Bob](javascript:alert(1)).\n\n"  # after a blank line markdown would
            "The **vault code** is [here](http://example.com/phish) ![t](http://127.0.0.1:9/pixel.png)\n\n"
            "# Big heading\n\n- a bullet")  # make these live: st.html never reads markdown
    r = httpx.post(f"{ui_stack['api']}/v1/documents", json={"collection": "hostile", "documents": [
        {"id": "vault", "title": "<img src=x onerror=alert(1)>", "text": text}]}, timeout=60)
    assert r.status_code == 201, r.text
    page.goto(f"{ui_stack['ui']}/?route=webqa")
    page.get_by_test_id("stChatInputTextArea").wait_for()
    ask(page, "Who is the guard of the vault?")
    page.locator(".qa-evidence").first.wait_for()
    evidence = page.locator(".qa-evidence").first
    assert "<script>" in evidence.inner_text() or "<b>" in evidence.inner_text()
    assert evidence.locator("script, b, img, a").count() == 0
    # the long token wraps inside the evidence: it ran 2,500 px past its edge, cut off, unscrollable
    assert evidence.evaluate("e => e.scrollWidth - e.clientWidth") <= 1
    assert page.evaluate("window.pwned") is None
    assert page.locator(".qa-meta img").count() == 0
    page_html = page.content()
    assert "example.com/phish" not in " ".join(page.locator("a").evaluate_all("els => els.map(e => e.href)"))
    assert page.locator("img[src*='pixel.png'], h1:has-text('Big heading'), strong:has-text('vault code')"
                        ).count() == 0, page_html[:2000]


def test_adding_a_document_in_the_browser(ui_stack, page) -> None:
    """The Add documents tab: a pasted text is added, said so, and the form empties (pressing Add
    again adds nothing twice); the document is answerable at once."""
    page.goto(ui_stack["ui"])
    page.get_by_role("tab", name="Add documents").click()
    page.get_by_role("textbox", name="Collection").fill("ui-notes")
    page.get_by_label("…or paste text").fill("The **lighthouse keeper** of Ardmore is Maren Holt.\n\n# Not a heading")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("added 1 document(s)").wait_for()
    assert page.get_by_label("…or paste text").input_value() == ""
    r = httpx.post(f"{ui_stack['api']}/v1/ask", json={"question": "Who is the lighthouse keeper of Ardmore?",
                                                      "route": "webqa", "collection": "ui-notes"}, timeout=60)
    assert r.status_code == 200, r.text
    assert "Maren Holt" in r.json()["answers"][0]["text"]
    # an uploaded file is sent once: the uploader kept it after the add, and the next Add (of pasted
    # text) sent it a second time, under a new id
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "quorble.txt", "mimeType": "text/plain", "buffer": b"The quorble festival is held in May."}])
    page.get_by_text("quorble.txt").wait_for()
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("quorble.txt").wait_for(state="detached")  # added, and the uploader is empty again
    page.get_by_text("added 1 document(s), 1 passage(s) to ui-notes (ids: ").first.wait_for()
    page.get_by_label("…or paste text").fill("The Ardmore ferry leaves at noon.")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("Ardmore ferry").wait_for(state="detached")
    page.get_by_text("added 1 document(s)").first.wait_for()
    hits = httpx.post(f"{ui_stack['api']}/v1/search", json={"query": "quorble festival", "k": 10,
                                                           "collection": "ui-notes"}, timeout=60).json()
    assert sum("quorble" in h["text"] for h in hits["passages"]) == 1, hits
