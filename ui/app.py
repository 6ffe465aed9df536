"""The Streamlit chat over the REST API (`qa serve` starts both; `streamlit run ui/app.py` alone
talks to the API at QA_API_URL).

Why through the API and not an engine in this process: one place builds the engine (the API
server), so the models load once however many browser sessions are open, the UI restarts in a
second, and what the UI shows is exactly what an app calling the API gets.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, TypeVar

import httpx
import streamlit as st
from pydantic import BaseModel, ValidationError

from qa.core.settings import RouteChoice
from qa.core.types import Answer, Response
from ui.render import (
    CSS,
    answer_html,
    document_id,
    filed_text,
    rewrite_html,
    routing_html,
    sparql_of,
    top_text,
)

HISTORY_TURNS = 10
M = TypeVar("M", bound=BaseModel)


def _settings() -> tuple[Any, str]:
    """The settings, or the defaults and the one line that says what is wrong with them (shown on
    the page, not as a traceback)."""
    from qa.core.errors import ConfigError
    from qa.core.settings import Settings

    try:
        return Settings.load(), ""
    except ConfigError as exc:
        return Settings.model_construct(), str(exc)  # the defaults, without reading the environment again


SETTINGS, SETTINGS_ERROR = _settings()
# longer than the server may take (its queue wait and its request timeout), which answers 503 or 504 itself first
TIMEOUT_S = SETTINGS.api_queue_timeout_s + SETTINGS.request_timeout_s + 5.0
RECHECK_S = 10.0  # a failed health check is made again after this long, not on every click
QUICK_S = 5.0  # the sidebar's calls answer at once from a live server: a hung one must not blank the page
MAX_QUESTION_CHARS = 2_000  # the API's limit
FILED_QUESTION_CHARS = 1_000  # what POST /v1/threads/accepted takes (the community-QA store's title limit)
# `:` too (`:warning:` became an emoji, `:blue[x]` a colour) and `&` (`&copy;` became ©)
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()<>#+-.!|~$:&"})


_URL = re.compile(r"https?://[^\s`]+")


def plain(text: str) -> str:
    """Text for st.error / st.success, which read markdown: a file named `**x** [y](z)` stays text.
    An address is shown as code, where no escape is read (escaped, it was auto-linked with the
    backslashes in it: http://127%5C.0%5C.0%5C.1)."""
    text, out, at = str(text), [], 0
    for m in _URL.finditer(text):
        out += [text[at:m.start()].translate(_MARKDOWN), f"`{m.group()}`"]
        at = m.end()
    return "".join([*out, text[at:].translate(_MARKDOWN)])


def api_url() -> str:
    from qa.core.settings import http_url

    return (SETTINGS.api_url or http_url(SETTINGS.api_host, SETTINGS.api_port)).rstrip("/")


def sendable_key(key: str) -> bool:
    """Whether `key` can travel in an HTTP header (printable ASCII): any other fails every call."""
    return all(" " <= c <= "~" for c in key)


class API:
    """The few calls the UI makes; errors become one readable line."""

    def __init__(self, url: str, key: str = "") -> None:
        self.url = url
        self.headers = {"X-API-Key": key} if key else {}

    def call(self, method: str, path: str, *, timeout: float = TIMEOUT_S, **kw: Any) -> dict[str, Any]:
        try:
            r = httpx.request(method, f"{self.url}{path}", headers=self.headers, timeout=timeout, **kw)
        except httpx.TimeoutException as exc:
            # only a write may still finish behind a timeout: a question or a health check says no more
            after = " (a write may still finish: check before sending it again)" if method != "GET" and \
                path not in ("/v1/ask", "/v1/read", "/v1/search") else ""
            raise RuntimeError(f"the API at {self.url} did not answer within {timeout:g} s{after}") from exc
        except httpx.HTTPError as exc:
            raise RuntimeError(f"the API at {self.url} is not reachable: is qa serve running?") from exc
        except (httpx.InvalidURL, ValueError, UnicodeError) as exc:  # not HTTPError: the address or a header
            raise RuntimeError(f"cannot call the API at {self.url}: {exc}") from exc
        try:
            body = r.json()
        except ValueError:
            body = {}
        if r.status_code >= 400:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            said = err.get("message") or r.reason_phrase
            if r.status_code in (401, 403):  # the box to fix it in is the sidebar's
                said += "; the sidebar's \"API key\" box takes it"
            rid = r.headers.get("x-request-id")
            # the server's own failure: the id its log has it under, for whoever runs it
            where = f", request {rid}" if rid and r.status_code >= 500 else ""
            raise RuntimeError(f"{said} (HTTP {r.status_code}{where})")
        return body

    def ask(self, body: dict[str, Any]) -> Response:
        return self._typed(Response, self.call("POST", "/v1/ask", json=body))

    def read(self, body: dict[str, Any]) -> list[Answer]:
        return self._typed(_ReadAnswers, self.call("POST", "/v1/read", json=body)).answers

    def _typed(self, model: type[M], body: dict[str, Any]) -> M:
        """The API's JSON read into the core's models, so the page renders typed answers; a server
        of another version that answers in another shape is one line, not a traceback."""
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise RuntimeError(f"the API at {self.url} answered in a shape this page does not read "
                               f"({exc.error_count()} problem(s), first: {exc.errors()[0]['msg']})") from None


class _ReadAnswers(BaseModel):
    answers: list[Answer]


def html(block: str) -> None:
    """Our escaped HTML, shown as HTML and never read as markdown: st.markdown would still turn a
    passage's own `[link](url)`, `![image](url)` or `# heading` into live elements after a blank line."""
    if block:
        st.html(block)


def show_response(resp: Response, turn: int, api: API | None = None) -> None:
    html(rewrite_html(resp))
    answers = resp.answers
    for rank, a in enumerate(answers, 1):
        html(f'<div class="qa-result" data-rank="{rank}" role="group" aria-label="answer {rank} of {len(answers)}">'
             f'{answer_html(a, rank)}</div>')
        sparql = sparql_of(a)
        if sparql:
            with st.expander("SPARQL", expanded=rank == 1):
                st.code(sparql, language="sparql")
        if rank == 1 and len(answers) > 1:
            st.caption("other answers")
    html(routing_html(resp))
    answer = filed_text(resp)
    asked = resp.rewritten or resp.question
    # the store files questions of at most its title limit: a longer one would only meet a 422
    if api is not None and answer and "cqa" in st.session_state.get("routes", []) and \
            len(asked.strip()) <= FILED_QUESTION_CHARS:
        # the accepted answer goes into the community-QA store: the next person asking gets it
        if st.button("👍 This answered it", key=f"accept-{turn}", help="File this answer for this question "
                     "in the community-QA store"):
            try:
                api.call("POST", "/v1/threads/accepted",
                         json={"question": asked, "answer": answer})
                st.toast("Filed: the next person asking this gets this answer")
            except RuntimeError as exc:
                st.error(plain(str(exc)))


def _health(api: API) -> dict[str, Any]:
    """The server's health; a check that failed is not made again for `RECHECK_S` (a hung server
    held every click and every question up for the check's whole wait, before the question showed)."""
    failed = st.session_state.get("health_failed")
    if failed is not None and failed[0] == api.url and time.monotonic() - failed[1] < RECHECK_S:
        raise RuntimeError(failed[2])
    try:
        health = api.call("GET", "/v1/health", timeout=QUICK_S)
    except RuntimeError as exc:
        st.session_state.health_failed = (api.url, time.monotonic(), str(exc))
        raise
    st.session_state.pop("health_failed", None)
    return health


def sidebar(api: API) -> dict[str, Any]:
    st.sidebar.title("offline-qa")
    try:
        health: dict[str, Any] | None = _health(api)
        assert health is not None
        ready = ", ".join(f"{r} {'✓' if ok else '…'}" for r, ok in health.get("ready", {}).items())
        st.sidebar.caption(f"API {api.url} · {health.get('status')} · {ready}")
        routes = ["auto", *health.get("routes", [])]
        st.session_state.routes = health.get("routes", [])
    except RuntimeError as exc:
        st.sidebar.error(plain(str(exc)))
        routes = [str(r) for r in RouteChoice]  # the server's own list is unknown: every route
        health = None
    collections: list[str] | None = None  # None: not known now (the server did not say)
    if health is not None:  # a server that did not answer its health check is not asked again here
        try:
            collections = api.call("GET", "/v1/collections", timeout=QUICK_S).get("collections", [])
        except RuntimeError:
            pass
    # the collection chosen stays chosen while it exists: the list changing (a collection added
    # here or by anyone, one failed look at the server) made a new box, set back to "all", and the
    # next question went to every source without a word
    kept = st.session_state.get("collection_choice", "all")
    options = ["all", *(collections or [])]
    gone = None
    if kept not in options:
        if collections is None:  # unknown now, not gone
            options.append(kept)
        else:
            gone, kept = kept, "all"
            st.session_state.collection_gone = gone  # said on the runs after this one too, until another choice
    st.session_state.collection_choice = kept  # the box's own value (a moved index made a new box, which
    said = st.session_state.get("collection_gone")  # dropped a choice made on the old one)
    if said and kept == "all":
        st.sidebar.warning(plain(f"the collection {said} is gone: questions go to every source"))
    elif said:
        st.session_state.pop("collection_gone", None)
    wanted = st.query_params.get("route", "auto")  # ?route=webqa&top_k=1 opens the page so
    try:
        k = min(5, max(1, int(st.query_params.get("top_k", 3))))
    except ValueError:
        k = 3
    opts = {
        "route": st.sidebar.selectbox("Route", routes, index=routes.index(wanted) if wanted in routes else 0,
                                      help="auto: the router picks the source"),
        "collection": st.sidebar.selectbox("Collection", options, key="collection_choice",
                                           on_change=lambda: st.session_state.pop("collection_gone", None),
                                           help="all: every source; a collection: its passages alone"),
        "gone": gone,
        "top_k": st.sidebar.slider("Answers", 1, 5, k),
    }
    if st.sidebar.button("New conversation"):
        st.session_state.turns = []
    return opts


def chat_tab(api: API, opts: dict[str, Any]) -> None:
    turns: list[dict[str, Any]] = st.session_state.setdefault("turns", [])
    for i, t in enumerate(turns):
        with st.chat_message("user"):
            st.text(t["question"])
        with st.chat_message("assistant"):
            if t.get("error"):
                st.error(plain(t["error"]))
            else:
                show_response(t["response"], i, api)
    # no max_chars: the box refused a longer paste whole, without a word; said here instead
    question = st.chat_input("Ask a question (follow-ups welcome: \"When did he die?\")")
    if not question or not question.strip():
        return
    if len(question) > MAX_QUESTION_CHARS:
        st.error(f"the question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
                 "It is below, to copy, shorten and send again (the box empties when it sends).")
        st.code(question, language=None, wrap_lines=True)
        return
    if opts.get("gone"):  # chosen for this question, gone as it was sent: not asked of every source instead
        turns.append({"question": question, "error": f"the collection {opts['gone']} is gone: not asked; "
                                                     "choose a collection (or all) and ask again"})
        st.rerun()
    with st.chat_message("user"):  # shown while the answer is worked on, not only once it is there
        st.text(question)
    history = [{"question": t["question"], "answer": top_text(t["response"]) if t.get("response") else ""}
               for t in turns[-HISTORY_TURNS:] if t.get("response")]
    body: dict[str, Any] = {"question": question, "history": history, "top_k": opts["top_k"]}
    if opts["route"] != "auto":
        body["route"] = opts["route"]
    if opts["collection"] != "all":
        body["collection"] = opts["collection"]
    with st.spinner("answering…"):
        try:
            turns.append({"question": question, "response": api.ask(body)})
            st.session_state.pop("health_failed", None)  # it answered: the sidebar looks again now
        except RuntimeError as exc:
            turns.append({"question": question, "error": str(exc)})
    st.rerun()


def read_tab(api: API) -> None:
    st.caption("Paste a passage and ask about it; give two or more options (one a line) for multiple choice.")
    with st.form("read"):
        context = st.text_area("Passage", height=180)
        question = st.text_input("Question")
        options = st.text_area("Options (optional, one a line)", height=80)
        go = st.form_submit_button("Read")
    if go:
        if not context.strip() or not question.strip():  # "context: String should have at least 1 character"
            st.warning("give a passage and a question")
            return
        body: dict[str, Any] = {"context": context, "question": question}
        opts = [o.strip() for o in options.splitlines() if o.strip()]
        if opts:
            body["options"] = opts
        try:
            with st.spinner("reading…"):
                answers = api.read(body)
        except RuntimeError as exc:
            st.error(plain(str(exc)))
            return
        for rank, a in enumerate(answers, 1):
            html(answer_html(a, rank))


def documents_tab(api: API) -> None:
    st.caption("Add text to a collection of your own; it is searchable as soon as it is added.")
    added = st.session_state.pop("docs_added", "")
    if added:  # emptied only after a successful add (a refused one keeps what was pasted)
        for key in ("docs_title", "docs_text"):
            st.session_state[key] = ""
    with st.form("docs"):
        collection = st.text_input("Collection", value="my-notes")
        # a new uploader after each add: the old one kept its files, and the next Add sent them again
        files = st.file_uploader("Text or Markdown files", type=["txt", "md"], accept_multiple_files=True,
                                 key=f"docs_files_{st.session_state.get('docs_round', 0)}")
        title = st.text_input("Title (for pasted text)", key="docs_title")
        pasted = st.text_area("…or paste text", height=120, key="docs_text")
        go = st.form_submit_button("Add")
    if added:
        st.success(plain(added))
    for said_before in st.session_state.pop("docs_skipped", []):  # said after the add's rerun too
        st.error(plain(said_before))
    if not go:
        return
    from qa.api.models import COLLECTION_PATTERN, MAX_DOCUMENT_CHARS, MAX_DOCUMENTS

    if not re.match(COLLECTION_PATTERN, collection):  # said as the pattern, it read as a regular expression
        st.error(plain(f"{collection!r} cannot name a collection: use letters, digits, '.', '_' or '-' "
                       "(up to 64, no spaces), starting with a letter or digit"))
        return
    docs = []
    skipped: list[str] = []
    for f in files or []:
        try:
            text = f.getvalue().decode("utf-8-sig")
        except UnicodeDecodeError:
            skipped.append(f"{f.name} is not UTF-8 text; not added")
            st.error(plain(skipped[-1]))
            continue
        if len(text) > MAX_DOCUMENT_CHARS:  # "documents.0.text: String should have at most ..." named no file
            st.error(plain(f"{f.name} holds {len(text):,} characters, over the {MAX_DOCUMENT_CHARS:,} a "
                           "document may: split it, or index its folder with `qa index`"))
            return
        docs.append({"id": document_id(Path(f.name).stem, text), "title": f.name, "text": text,
                     "source": f"upload:{f.name}"})
    if pasted.strip():
        if len(pasted) > MAX_DOCUMENT_CHARS:
            st.error(plain(f"the pasted text holds {len(pasted):,} characters, over the {MAX_DOCUMENT_CHARS:,} "
                           "a document may"))
            return
        docs.append({"id": document_id("pasted", pasted), "title": title, "text": pasted, "source": "pasted"})
    if not docs:
        st.warning("nothing to add")
        return
    if len(docs) > MAX_DOCUMENTS:
        st.error(f"{len(docs):,} documents: at most {MAX_DOCUMENTS} are added at a time")
        return
    if len({d["id"] for d in docs}) < len(docs):
        st.error("the same text is given twice: add it once")
        return
    try:
        with st.spinner("adding…"):
            r = api.call("POST", "/v1/documents", json={"collection": collection, "documents": docs})
    except RuntimeError as exc:
        said = str(exc)
        if "HTTP 409" in said and "is already in collection" in said:  # ids are the texts' own
            taken = next((d for d in docs if f"'{d['id']}'" in said), None)
            what = f"{taken['title'] or 'the pasted text'}" if taken else "that text"
            st.error(plain(f"{what}: the same text is in {collection} already; nothing was added"))
        else:
            st.error(plain(said))
        return
    ids = ", ".join(r["documents"][:5]) + (", …" if len(r["documents"]) > 5 else "")
    st.session_state.docs_added = f"added {len(r['documents'])} document(s), {r['passages']} passage(s) to " \
                                  f"{r['collection']} (ids: {ids})"
    st.session_state.docs_skipped = skipped
    st.session_state.docs_round = st.session_state.get("docs_round", 0) + 1
    st.rerun()  # the form empties at once, and says what was added


def main() -> None:
    st.set_page_config(page_title="offline-qa", page_icon="❓", layout="wide")
    st.markdown(CSS, unsafe_allow_html=True)
    if SETTINGS_ERROR:
        st.error(plain(f"bad settings: {SETTINGS_ERROR}"))
    # the key a visitor types, never the server's own QA_API_KEY: whoever reaches this page would
    # write with it. QA_UI_API_KEY is an operator's explicit choice to lend the page a key.
    key = st.session_state.get("api_key", "") or os.environ.get("QA_UI_API_KEY", "")
    sendable = sendable_key(key)
    api = API(api_url(), key if sendable else "")
    opts = sidebar(api)
    # open while the key typed cannot be sent: it closed, hiding the box to correct it in
    with st.sidebar.expander("API key", expanded=not sendable):
        st.text_input("if the server asks for one (writes; reads too where it is set so)", type="password",
                      key="api_key")
        if not sendable:
            st.error("the API key can only hold printable ASCII characters: not sent until it does")
    html('<h1 class="qa-sr">offline-qa: questions and answers</h1>')  # the main area's heading, for screen readers
    chat, read, docs = st.tabs(["Chat", "Read a passage", "Add documents"])
    with chat:
        chat_tab(api, opts)
    with read:
        read_tab(api)
    with docs:
        documents_tab(api)


main()
