"""The UI's HTML comes only from escaped data: answers highlighted at their offsets, markup in
passages, labels or SPARQL shown as text."""

from __future__ import annotations

import pytest

from qa.core.types import Answer, Response
from ui.render import answer_html, evidence_html, highlighted, rewrite_html, routing_html, sparql_of, top_text


def A(d: dict) -> Answer:  # noqa: N802 - the API's JSON, read as the page reads it
    return Answer.model_validate(d)


def R(d: dict) -> Response:  # noqa: N802
    return Response.model_validate(d)


def test_answer_is_marked_at_its_offsets_and_everything_is_escaped() -> None:
    text = "Before <b>bold</b> & the answer here <script>x()</script>"
    start = text.index("the answer")
    out = highlighted(text, start, start + len("the answer"))
    assert '<mark class="qa-span">the answer</mark>' in out
    assert "<b>" not in out and "&lt;b&gt;" in out and "<script>" not in out and "&amp;" in out


def test_long_passages_are_cut_around_the_answer() -> None:
    text = "a" * 1000 + "ANSWER" + "b" * 1000
    out = highlighted(text, 1000, 1006, width=50)
    assert out.startswith("…") and out.endswith("…") and len(out) < 200


def test_no_answer_shows_the_best_guess_and_kbqa_its_sparql() -> None:
    guess = {"text": "<i>Paris</i>", "score": 0.3, "route": "webqa",
             "evidence": {"kind": "span", "text": "It is <i>Paris</i>.", "start": 6, "end": 18, "passage_id": "p1",
                          "title": "<img src=x>", "collection": "c"}}
    none = {"text": "", "score": 0.7, "route": "webqa", "no_answer": True, "best_guess": guess}
    out = answer_html(A(none), 1)
    assert "No answer" in out and "best guess" in out and "&lt;i&gt;Paris&lt;/i&gt;" in out
    assert "<img" not in out and "<i>" not in out
    graph = {"text": "Paris", "score": 0.99, "route": "kbqa", "evidence": {
        "kind": "graph", "entities": [{"label": "France<script>", "method": "exact", "score": 0.97, "iri": "x"}],
        "path": [{"relation": "ex:capital", "label": "capital"}], "sparql": "SELECT ?a WHERE { <x> <y> ?a }"}}
    assert "France&lt;script&gt;" in evidence_html(A(graph)) and sparql_of(A(graph)).startswith("SELECT")
    choice = {"text": "B", "score": 0.8, "route": "reader", "evidence": {
        "kind": "choice", "context": "c", "question": "q", "options": ["<a>", "b"], "probabilities": [0.2, 0.8],
        "chosen": 1}}
    assert "&lt;a&gt;" in evidence_html(A(choice)) and "✔" in evidence_html(A(choice))


def test_rewrite_routing_and_remembered_answer() -> None:
    resp = {"question": "When did he die?", "rewritten": "When did <Tesla> die?", "answers": [
        {"text": "1943", "score": 0.9, "route": "webqa"}], "routing": {"chosen": "webqa", "reason": "forced <x>"},
        "timings": {"total_s": 0.25}}
    resp = R(resp)
    assert rewrite_html(resp) == '<div class="qa-rewrite">understood as: When did &lt;Tesla&gt; die?</div>'
    assert "forced &lt;x&gt;" in routing_html(resp) and "0.25 s" in routing_html(resp)
    assert top_text(resp) == "1943"
    routing = {"chosen": "webqa"}
    assert top_text(R({"question": "q", "routing": routing, "answers": [
        {"text": "", "no_answer": True, "score": 1, "route": "webqa"}]})) == ""
    assert rewrite_html(R({"question": "q", "routing": routing, "answers": [], "rewritten": None})) == ""


def test_a_huge_answer_is_cut_when_shown() -> None:
    from qa.core.text import clip as shown

    html_out = answer_html(A({"text": "x" * 5000, "score": 0.9, "route": "kbqa", "no_answer": False}), 1)
    assert "(5,000 characters)" in html_out and len(html_out) < 1500
    assert shown("y" * 5000).endswith("… (5,000 characters)") and shown("short") == "short"


def test_the_entity_a_graph_query_starts_from_is_always_among_the_linked() -> None:
    """"do not border" once started the query at the city Thốt Nốt while "linked:" showed only
    "country": the anchor is listed even when it is not among the best-linked names."""
    from rich.console import Console

    from qa.core.types import Answer, GraphEvidence, LinkedEntity, Response, Route, Routing
    from qa.render import print_response

    anchor = {"iri": "ns:m.city.1", "label": "Thốt Nốt", "method": "token", "score": 0.75}
    ev = {"kind": "graph", "anchor": anchor, "entities": [{"iri": "ns:country", "label": "country",
                                                           "method": "exact", "score": 0.87}],
          "path": [{"relation": "ns:adjoins", "label": "adjoins"}]}
    assert "Thốt Nốt (token 0.75), country (exact 0.87)" in evidence_html(
        A({"text": "Laos", "score": 0.7, "route": "kbqa", "evidence": ev}))
    answer = Answer(text="Laos", score=0.7, route=Route.KBQA, evidence=GraphEvidence(
        anchor=LinkedEntity(**anchor), entities=[LinkedEntity(**ev["entities"][0])]))
    console = Console(record=True, width=200)
    print_response(console, Response(question="q", answers=[answer], routing=Routing(chosen=Route.KBQA)))
    assert "linked: Thốt Nốt (token 0.75), country (exact 0.87)" in console.export_text()


def test_the_terminal_shows_escape_sequences_in_stored_text_instead_of_obeying_them() -> None:
    import io

    from rich.console import Console

    from qa.core.types import Answer, Response, Route, Routing, SpanEvidence
    from qa.render import print_response

    text = "Designed by Trent Faxilor\x1b[2J\x1b]0;PWNED\x07 in 1950."
    start = text.index("Trent")
    answer = Answer(text="Trent Faxilor", score=0.9, route=Route.WEBQA, evidence=SpanEvidence(
        text=text, start=start, end=start + len("Trent Faxilor"), title="Esc\x1b]8;;http://evil\x1b\\Doc"))
    buf = io.StringIO()
    print_response(Console(file=buf, width=200, force_terminal=True),
                   Response(question="q", answers=[answer], routing=Routing(chosen=Route.WEBQA)))
    shown = buf.getvalue()
    assert "\x1b[2J" not in shown and "\x1b]0;" not in shown and "\x1b]8;;http://evil" not in shown
    assert "Trent Faxilor" in shown and "\ufffd[2J" in shown


def test_the_ui_gives_up_on_a_hung_api_after_the_timeout_asked_for() -> None:
    import socket
    import time

    from ui.app import API, QUICK_S

    with socket.socket() as hung:  # accepts connections, never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen()
        api = API(f"http://127.0.0.1:{hung.getsockname()[1]}")
        t0 = time.monotonic()
        with pytest.raises(RuntimeError, match=r"did not answer within 0\.5 s") as info:
            api.call("GET", "/v1/health", timeout=0.5)
        assert time.monotonic() - t0 < 5 and QUICK_S <= 10
        assert "a write may still finish" not in str(info.value)  # a health check writes nothing
        with pytest.raises(RuntimeError, match="a write may still finish"):
            api.call("POST", "/v1/documents", json={}, timeout=0.2)


def test_a_server_failure_shown_in_the_ui_carries_the_request_id_the_log_has() -> None:
    import http.server
    import threading

    from ui.app import API

    class Failing(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the handler's name
            body = b'{"error": {"type": "internal_error", "message": "internal error: it has been logged"}}'
            code = 500 if self.path == "/boom" else 404
            self.send_response(code)
            self.send_header("X-Request-ID", "abc123")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = API(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(RuntimeError, match=r"\(HTTP 500, request abc123\)"):
            api.call("GET", "/boom")
        with pytest.raises(RuntimeError, match=r"\(HTTP 404\)$"):  # the client's own mistake: no id to chase
            api.call("GET", "/nothing")
    finally:
        server.shutdown()


def test_error_text_shows_an_address_as_code_and_escapes_the_rest() -> None:
    from ui.app import plain

    shown = plain("the API at http://127.0.0.1:18130 is not reachable: **x** [y](z)")
    assert "`http://127.0.0.1:18130`" in shown  # escaped, it was auto-linked as http://127%5C.0%5C.0%5C.1
    assert "\\*\\*x\\*\\* \\[y\\]\\(z\\)" in shown
    # Streamlit's emoji shortcodes and colours, and HTML entities, stay as typed (a file named so)
    assert plain(":warning: &copy; :blue[v2]") == "\\:warning\\: \\&copy; \\:blue\\[v2\\]"


def test_our_text_colours_follow_the_theme() -> None:
    """A fixed #222 passage text on Streamlit's dark theme measured 1.14 to 1: unreadable."""
    import re

    from ui.render import CSS

    fixed = re.findall(r"[{;]\s*color:\s*(#[0-9a-fA-F]{3,6})", CSS)
    assert fixed == ["#111"], fixed  # only the answer's mark, on its own yellow background


def test_the_ui_offers_to_file_only_questions_the_api_takes() -> None:
    """"This answered it" files the question in the community-QA store, whose limit is below the
    question limit: a longer question would only meet a 422."""
    from cqa.store import MAX_TEXT_CHARS, MAX_TITLE_CHARS
    from qa.api.models import MAX_QUESTION_CHARS as API_QUESTION_CHARS
    from qa.api.models import AcceptedAnswerIn
    from ui.app import FILED_QUESTION_CHARS, MAX_QUESTION_CHARS

    assert FILED_QUESTION_CHARS == MAX_TITLE_CHARS and MAX_QUESTION_CHARS == API_QUESTION_CHARS
    # it files a thread's whole answer, as long as the store keeps one
    AcceptedAnswerIn(question="How do I reset it?", answer="x" * MAX_TEXT_CHARS)


def test_a_thread_match_shows_why_it_is_held_down_in_the_browser_and_the_terminal() -> None:
    import io

    from rich.console import Console

    from qa.core.types import Answer, Response, Route, Routing, ThreadEvidence
    from qa.render import print_response

    caveat = "the matched question names 37 where the question names <36>"
    ev = {"kind": "thread", "thread_id": "t1", "title": "Who was the 37th President?", "answer": "Richard Nixon",
          "caveat": caveat}
    html_out = evidence_html(A({"text": "Richard Nixon", "score": 0.25, "route": "cqa", "evidence": ev}))
    assert "but: the matched question names 37 where the question names &lt;36&gt;" in html_out
    plain = {"text": "x", "score": 0.25, "route": "cqa", "evidence": {**ev, "caveat": None}}
    assert "but:" not in evidence_html(A(plain))
    answer = Answer(text="Richard Nixon", score=0.25, route=Route.CQA,
                    evidence=ThreadEvidence(thread_id="t1", title="Who was the 37th President?",
                                            answer="Richard Nixon", caveat=caveat))
    buf = io.StringIO()
    print_response(Console(file=buf, width=200), Response(question="q", answers=[answer],
                                                          routing=Routing(chosen=Route.CQA)))
    assert "but: " + caveat in buf.getvalue()


def test_this_answered_it_files_a_threads_whole_answer_and_a_cut_article_is_said() -> None:
    """It filed the short span shown ("hold the reset button"), which then matched the wording
    first and lost the steps; a multiple-choice read of a long passage hid that its end was never read."""
    from qa.core.types import Route, Routing, ThreadEvidence
    from ui.render import filed_text

    steps = "Unplug it. Then hold the reset button for 30 seconds, and plug it back in."
    shown = Answer(text="hold the reset button", score=0.9, route=Route.CQA,
                   evidence=ThreadEvidence(thread_id="t1", title="How do I reset it?", answer=steps, start=20, end=41))
    resp = Response(question="How can I reset it?", answers=[shown], routing=Routing(chosen=Route.CQA))
    assert filed_text(resp) == steps and top_text(resp) == "hold the reset button"
    assert "</span> <span" in answer_html(shown, 1)  # read apart: "hold the reset button score 0.90"
    ev = {"kind": "choice", "context": "x" * 5364, "question": "q", "options": ["red", "green"],
          "probabilities": [0.4, 0.6], "chosen": 1, "context_chars_read": 2779}
    assert "read the first 2,779 of the passage's 5,364 characters" in evidence_html(
        A({"text": "green", "score": 0.6, "route": "reader", "evidence": ev}))


def test_an_answer_users_accepted_says_accepted_once() -> None:
    """A thread filed by "This answered it" showed "thread accepted:…, accepted, accepted" (its flag
    and its source), in the browser and the terminal."""
    from qa.core.types import ThreadEvidence
    from qa.render import answer_panel

    ev = ThreadEvidence(thread_id="accepted:a842bb", title="When was the Eiffel Tower built?",
                        answer="1887 to 1889", accepted=True, source="accepted")
    answer = Answer(text="1887 to 1889", score=0.99, route="cqa", evidence=ev)
    assert evidence_html(answer).count("accepted") == 2  # the thread id, and the flag
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(answer_panel(answer, 1))
    assert console.export_text().count("accepted") == 2


@pytest.mark.parametrize("name", ["_draft", "__init__", "_", "日本語", "-x", ".hidden", "ñandú", "a" * 300, "notes"])
def test_a_documents_id_from_its_file_name_is_one_the_api_takes(name: str) -> None:
    """"_draft.md" gave "_draft-…", which the API's id pattern refuses: the whole add failed with
    "documents.0.id: String should match pattern", an id the user never typed."""
    import re

    from qa.api.models import DOCUMENT_ID_PATTERN
    from ui.render import document_id

    doc = document_id(name, "some text")
    assert re.match(DOCUMENT_ID_PATTERN, doc), doc
    assert document_id(name, "some text") == doc != document_id(name, "other text")


def test_a_passage_without_a_title_is_named_by_its_file_and_line() -> None:
    """A JSON-lines document without a title showed "source:  [1#0]"."""
    import io

    from rich.console import Console

    from qa.core.types import Route, Routing, SpanEvidence
    from qa.render import print_response

    answer = Answer(text="Nadia Kowalski", score=0.9, route=Route.WEBQA, evidence=SpanEvidence(
        text="The Alpha team lead is Nadia Kowalski.", start=23, end=37, passage_id="1#0", source="a.jsonl:1"))
    buf = io.StringIO()
    print_response(Console(file=buf, width=200), Response(question="q", answers=[answer],
                                                          routing=Routing(chosen=Route.WEBQA)))
    assert "source: a.jsonl:1 [1#0]" in buf.getvalue()
    assert "a.jsonl:1 [1#0]" in evidence_html(answer)
