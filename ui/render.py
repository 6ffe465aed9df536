"""HTML for the chat UI, built only from escaped data: passages, labels, SPARQL and answers may hold
`<script>` or markdown; every piece goes through `html.escape` before it meets our own tags, and
the app shows the result with `st.html` (HTML, never read as markdown), so the browser shows what
the data says and never runs or formats it. Pure functions over the API's answers, read into the core's typed
models (the one answer shape), so they are tested without a browser."""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any

from qa.core.text import clip, counted
from qa.core.types import Answer, ChoiceEvidence, GraphEvidence, Response, SpanEvidence, ThreadEvidence

SNIPPET = 300
# Colours inherit the theme's text colour (muted by opacity), so the text reads in the light theme
# and the dark one alike: a fixed #222 on Streamlit's dark background measured 1.14 to 1.
CSS = """
<style>
.qa-answer {font-size: 1.15rem; font-weight: 600; overflow-wrap: anywhere;}
.qa-score {opacity: .8; font-size: 0.9rem; margin-left: .5rem;}
.qa-evidence {border-left: 3px solid rgba(128, 128, 128, .5); padding: .25rem .75rem; margin: .25rem 0 .5rem 0;
              color: inherit; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .95rem;}
.qa-evidence mark, mark.qa-span {background: #ffe066; color: #111; padding: 0 .1rem; font-weight: 600;}
.qa-meta {opacity: .8; font-size: .85rem; overflow-wrap: anywhere;}
.qa-rewrite {opacity: .8; font-style: italic; margin-bottom: .25rem; overflow-wrap: anywhere;}
.qa-noanswer {font-weight: 600; border-left: 3px solid #d33; padding-left: .5rem;}
.qa-guess {font-style: italic;}
.qa-sr {position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
        clip: rect(0 0 0 0); white-space: nowrap; border: 0;}
</style>
"""
# said to a screen reader before each evidence block (on screen, its border says it)
EVIDENCE_LABEL = '<span class="qa-sr">evidence: </span>'




def e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def highlighted(text: str, start: int | None, end: int | None, width: int = SNIPPET) -> str:
    """The passage around [start, end) with the answer marked; the rest cut with ellipses."""
    if start is None or end is None or not (0 <= start <= end <= len(text)):
        cut = text[: 2 * width]
        return e(cut) + ("…" if len(text) > len(cut) else "")
    lo, hi = max(0, start - width), min(len(text), end + width)
    return (("…" if lo else "") + e(text[lo:start]) + f'<mark class="qa-span">{e(text[start:end])}</mark>'
            + e(text[end:hi]) + ("…" if hi < len(text) else ""))


def evidence_html(answer: Answer) -> str:
    """The evidence block of one answer (span, graph, thread or choice)."""
    ev = answer.evidence
    if isinstance(ev, SpanEvidence):
        src = " ".join(filter(None, [e(ev.title or ev.source), f"[{e(ev.passage_id)}]" if ev.passage_id else ""]))
        if ev.collection:
            src += f" in {e(ev.collection)}"
        if ev.also_in:
            src += f" · also in {len(ev.also_in)} more"
        meta = f'<div class="qa-meta">source: {src.strip()}</div>' if src.strip() else ""  # a text read directly
        quoted = highlighted(ev.text, ev.start, ev.end)
        return f'{EVIDENCE_LABEL}<blockquote class="qa-evidence">{quoted}</blockquote>{meta}'
    if isinstance(ev, GraphEvidence):
        if not (ev.entities or ev.path or ev.sparql):
            return ""  # nothing linked, nothing run: "linked: - / path: -" would say nothing
        shown = list(ev.entities)
        if ev.anchor is not None and all(x.iri != ev.anchor.iri for x in shown):
            shown.insert(0, ev.anchor)  # the query starts there: never leave it out of the explanation
        ents = ", ".join(f"{e(x.label)} ({e(x.method)} {x.score:.2f})" for x in shown)
        path = " → ".join(e(s.label or s.relation) + (" (inverse)" if s.direction == "inverse" else "")
                          for s in ev.path)
        parts = [f'<div class="qa-meta">linked: {ents or "-"}</div>', f'<div class="qa-meta">path: {path or "-"}</div>']
        if ev.constraints:
            parts.append(f'<div class="qa-meta">constraints: {e(", ".join(ev.constraints))}</div>')
        return "".join(parts)
    if isinstance(ev, ThreadEvidence):
        facts = [f"thread {e(ev.thread_id)}"]
        if ev.votes is not None:
            facts.append(counted(ev.votes, "vote"))
        if ev.accepted:
            facts.append("accepted")
        if ev.source and not (ev.accepted and ev.source == "accepted"):  # "accepted, accepted"
            facts.append(e(ev.source))
        but = f'<div class="qa-meta">but: {e(ev.caveat)}</div>' if ev.caveat else ""
        title = e(ev.title or ev.question[:200])
        return (f'<div class="qa-meta">matched question: {title}</div>{but}'
                f'{EVIDENCE_LABEL}<blockquote class="qa-evidence">{highlighted(ev.answer, ev.start, ev.end, 500)}'
                f'</blockquote><div class="qa-meta">{", ".join(facts)}</div>')
    if isinstance(ev, ChoiceEvidence):
        rows = []
        for i, (opt, p) in enumerate(zip(ev.options, ev.probabilities, strict=False)):
            mark = " ✔" if i == ev.chosen else ""
            rows.append(f"<li>{e(opt)} — {p:.3f}{mark}</li>")
        cut = ""
        if ev.context_chars_read is not None:  # the reader reads one window: what follows it never saw
            cut = (f'<div class="qa-meta">the reader read the first {ev.context_chars_read:,} of the passage\'s '
                   f"{len(ev.context):,} characters: an answer after them was never seen</div>")
        return f'<ol type="A" class="qa-evidence" aria-label="options">{"".join(rows)}</ol>{cut}'
    return ""


def answer_html(answer: Answer, rank: int) -> str:
    """One answer: text and score, or "no answer" with the best guess, then its evidence."""
    if answer.no_answer:
        out = f'<div class="qa-noanswer">#{rank} No answer (confidence {answer.score:.2f})</div>'
        guess = answer.best_guess
        if guess is not None:
            out += (f'<div class="qa-guess">best guess: <span class="qa-answer">{e(clip(guess.text))}</span> '
                    f'<span class="qa-score">score {guess.score:.2f}</span></div>' + evidence_html(guess))
        elif answer.evidence is not None:
            out += evidence_html(answer)
        return out
    # a space between the two (not the CSS margin alone): screen readers and copies read them apart
    return (f'<div>#{rank} <span class="qa-answer">{e(clip(answer.text))}</span> '
            f'<span class="qa-score">score {answer.score:.2f} · {e(answer.route)}</span></div>'
            + evidence_html(answer))


def sparql_of(answer: Answer) -> str:
    """The query behind a graph answer, or behind its best guess."""
    for a in (answer, answer.best_guess):
        if a is not None and isinstance(a.evidence, GraphEvidence):
            return a.evidence.sparql
    return ""


def routing_html(response: Response) -> str:
    r = response.routing
    t = response.timings.get("total_s")
    took = f" · {t:.2f} s" if t is not None else ""
    return f'<div class="qa-meta">route: <b>{e(r.chosen)}</b> — {e(r.reason)}{took}</div>'


def rewrite_html(response: Response) -> str:
    rw = response.rewritten
    return f'<div class="qa-rewrite">understood as: {e(rw)}</div>' if rw else ""


def filed_text(response: Response) -> str:
    """The answer "This answered it" files: a matched thread's whole answer, not the short span
    shown from it (filed, the span matched this wording first and its steps were lost)."""
    answers = response.answers
    if not answers or answers[0].no_answer:
        return ""
    ev = answers[0].evidence
    return ev.answer if isinstance(ev, ThreadEvidence) and ev.answer.strip() else answers[0].text


def top_text(response: Response) -> str:
    """What the conversation remembers as this turn's answer ("" for none)."""
    answers = response.answers
    if not answers or answers[0].no_answer:
        return ""
    return answers[0].text


def document_id(name: str, text: str) -> str:
    """A document's id from its name and its text: the same file added twice was stored twice (each
    time under a new random id); the API refuses an id the collection holds (409)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:60] or "doc"  # the API's ids open with a
    # letter or digit
    return f"{stem}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:10]}"
