"""The chat UI's script run by Streamlit's own test runner against a real API on loopback (uvicorn,
the test corpus's engine): what it does with keys and settings, without a browser."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.api.conftest import REPO, api_settings, app, free_port

__all__ = ["api_settings", "app"]  # the API test fixtures, used here

APP = str(REPO / "ui" / "app.py")


@pytest.fixture(scope="module")
def keyed_api(app, api_settings) -> Iterator[str]:
    """The API with a write key, served by uvicorn in this process (the engine already loaded)."""
    import uvicorn

    from qa.api import create_app

    keyed = create_app(api_settings.model_copy(update={"api_key": "s3cret"}), engine=app.state.engine, warm=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(keyed, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _run(monkeypatch, **env: str):
    from streamlit.testing.v1 import AppTest

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return AppTest.from_file(APP, default_timeout=60).run()


def _add_note(at) -> None:
    next(t for t in at.text_input if t.label == "Collection").set_value("script-notes")
    at.text_area(key="docs_text").set_value("The keeper of the Ardmore light is Maren Holt.")
    at.button[[b.label for b in at.button].index("Add")].click().run()


def test_the_page_never_writes_with_the_servers_key(keyed_api: str, monkeypatch) -> None:
    """`qa serve` starts the page with the server's environment: a visitor who types no key must
    not write with QA_API_KEY; with the key typed in, the write goes through."""
    at = _run(monkeypatch, QA_API_URL=keyed_api, QA_API_KEY="s3cret")
    assert not at.exception
    _add_note(at)
    assert any("API key" in e.value and "401" in e.value for e in at.error), [e.value for e in at.error]
    at.text_input(key="api_key").set_value("s3cret").run()
    _add_note(at)
    assert not at.error and at.session_state["docs_text"] == ""  # added: the form empties
    import httpx

    hits = httpx.post(f"{keyed_api}/v1/search", json={"query": "Ardmore light keeper", "collection": "script-notes"},
                      timeout=60).json()
    assert "Maren Holt" in hits["passages"][0]["text"], hits


@pytest.mark.parametrize("env", [{"QA_TOP_K": "abc"}, {"QA_API_URL": "http://[::1"},
                                 {"QA_API_URL": "localhost:8000"}])
def test_bad_settings_are_a_line_on_the_page(env: dict[str, str], monkeypatch) -> None:
    at = _run(monkeypatch, **env)
    assert not at.exception
    assert any("bad settings" in e.value for e in at.error), [e.value for e in at.error]


def test_a_key_that_cannot_be_sent_is_refused_on_the_page(keyed_api: str, monkeypatch) -> None:
    at = _run(monkeypatch, QA_API_URL=keyed_api)
    at.text_input(key="api_key").set_value("pässwört").run()
    assert not at.exception
    assert any("printable ASCII" in e.value for e in at.sidebar.error)
    # said inside the box, kept open: it collapsed, hiding the box to correct the key in
    assert at.sidebar.expander[0].proto.expanded


def test_a_collection_name_the_api_refuses_is_said_in_words(keyed_api: str, monkeypatch) -> None:
    """It was "collection: String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' (HTTP 422)"."""
    at = _run(monkeypatch, QA_API_URL=keyed_api)
    next(t for t in at.text_input if t.label == "Collection").set_value("my notes")
    at.text_area(key="docs_text").set_value("The keeper of the Ardmore light is Maren Holt.")
    at.button[[b.label for b in at.button].index("Add")].click().run()
    said = [e.value for e in at.error]
    assert any("'my notes' cannot name a collection" in e and "no spaces" in e for e in said), said
    assert not any("pattern" in e for e in said)


def _post_doc(api: str, collection: str, text: str) -> None:
    import httpx

    r = httpx.post(f"{api}/v1/documents", json={"collection": collection, "documents": [{"text": text}]},
                   headers={"X-API-Key": "s3cret"}, timeout=120)
    assert r.status_code == 201, r.text


def test_the_collection_chosen_stays_chosen_when_the_list_changes(keyed_api: str, monkeypatch) -> None:
    """A collection added by anyone made the sidebar's box a new one, back at "all": the next
    question went to every source without a word."""
    _post_doc(keyed_api, "ui-keep", "The Ardmore ferry leaves at nine.")
    at = _run(monkeypatch, QA_API_URL=keyed_api)
    box = next(b for b in at.sidebar.selectbox if b.label == "Collection")
    box.set_value("ui-keep").run()
    _post_doc(keyed_api, "ui-other", "The Ardmore bakery opens at six.")
    at.run()
    box = next(b for b in at.sidebar.selectbox if b.label == "Collection")
    assert box.value == "ui-keep" and "ui-other" in box.options
    import httpx

    assert httpx.delete(f"{keyed_api}/v1/documents/{_only_doc(keyed_api, 'ui-keep')}",
                        params={"collection": "ui-keep"}, headers={"X-API-Key": "s3cret"}).status_code == 200
    at.run()  # its last document deleted: the collection is gone, and the page says so
    box = next(b for b in at.sidebar.selectbox if b.label == "Collection")
    assert box.value == "all" and any("ui-keep is gone" in w.value.replace("\\", "") for w in at.sidebar.warning)


def test_a_second_choice_of_collection_is_the_one_asked(keyed_api: str, monkeypatch) -> None:
    """Choosing one collection and then another asked the first: the box was made anew after each
    change, and the change made on the old one was dropped."""
    _post_doc(keyed_api, "ui-first", "The Ardmore ferry leaves at nine.")
    _post_doc(keyed_api, "ui-second", "The Ardmore ferry leaves at ten.")
    at = _run(monkeypatch, QA_API_URL=keyed_api)
    for name in ("ui-first", "ui-second"):
        next(b for b in at.sidebar.selectbox if b.label == "Collection").set_value(name).run()
    at.chat_input[0].set_value("When does the Ardmore ferry leave?").run()
    turn = at.session_state["turns"][-1]
    assert "ui-second" in turn["response"].routing.reason, turn


def test_a_question_for_a_collection_gone_meanwhile_is_not_asked_of_every_source(keyed_api: str,
                                                                                  monkeypatch) -> None:
    """The question went to every source, and the warning that the collection was gone was wiped by
    the page's rerun."""
    import httpx

    _post_doc(keyed_api, "ui-gone", "The Ardmore ferry leaves at nine.")
    at = _run(monkeypatch, QA_API_URL=keyed_api)
    next(b for b in at.sidebar.selectbox if b.label == "Collection").set_value("ui-gone").run()
    assert httpx.delete(f"{keyed_api}/v1/documents/{_only_doc(keyed_api, 'ui-gone')}",
                        params={"collection": "ui-gone"}, headers={"X-API-Key": "s3cret"}).status_code == 200
    at.chat_input[0].set_value("When does the Ardmore ferry leave?").run()
    turn = at.session_state["turns"][-1]
    assert "response" not in turn and "ui-gone is gone: not asked" in turn["error"], turn
    assert any("ui-gone is gone" in w.value.replace("\\", "") for w in at.sidebar.warning)
    box = next(b for b in at.sidebar.selectbox if b.label == "Collection")
    box.set_value(next(o for o in box.options if o != "all")).run()
    assert not at.sidebar.warning  # said until another choice is made


def _only_doc(api: str, collection: str) -> str:
    import httpx

    hits = httpx.post(f"{api}/v1/search", json={"query": "Ardmore ferry", "collection": collection, "k": 1},
                      timeout=60).json()["passages"]
    return hits[0]["id"].split("#")[0]


def test_the_page_says_what_the_api_would_refuse_in_its_own_words(keyed_api: str, monkeypatch) -> None:
    """An empty Read form showed "context: String should have at least 1 character (and 1 more)";
    a question pasted over the limit vanished without a word; the same text added twice was stored twice."""
    at = _run(monkeypatch, QA_API_URL=keyed_api)
    at.button[[b.label for b in at.button].index("Read")].click().run()
    assert any("give a passage and a question" in w.value for w in at.warning)
    assert not any("String should" in e.value for e in at.error)
    at.chat_input[0].set_value("Why? " * 500).run()
    assert any("the limit is 2,000" in e.value for e in at.error), [e.value for e in at.error]
    at.text_input(key="api_key").set_value("s3cret").run()
    for _ in range(2):
        next(t for t in at.text_input if t.label == "Collection").set_value("ui-twice")
        at.text_area(key="docs_text").set_value("The Ardmore lighthouse was built in 1862.")
        at.button[[b.label for b in at.button].index("Add")].click().run()
    said = [e.value.replace("\\", "") for e in at.error]
    assert any("the same text is in ui-twice already; nothing was added" in e for e in said), said
