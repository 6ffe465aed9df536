"""HTML for the chat UI, built only from escaped data: passages, labels, SPARQL and answers may hold
`<script>` or markdown; every piece goes through `html.escape` before it meets our own tags, and
the app shows the result with `st.html` (HTML, never read as markdown), so the browser shows what
the data says and never runs or formats it. Pure functions over the API's JSON (the one answer
shape), so they are tested without a browser."""

from __future__ import annotations

import html
from typing import Any

from qa.core.text import clip

SNIPPET = 300
CSS = """
<style>
.qa-answer {font-size: 1.15rem; font-weight: 600;}
.qa-score {color: #555; font-size: 0.9rem; margin-left: .5rem;}
.qa-evidence {border-left: 3px solid #ddd; padding: .25rem .75rem; margin: .25rem 0 .5rem 0; color: #222;
              white-space: pre-wrap; font-size: .95rem;}
.qa-evidence mark, mark.qa-span {background: #ffe066; padding: 0 .1rem; font-weight: 600;}
.qa-meta {color: #666; font-size: .85rem;}
.qa-rewrite {color: #555; font-style: italic; margin-bottom: .25rem;}
.qa-noanswer {color: #b00020; font-weight: 600;}
.qa-guess {color: #8a6d00;}
</style>
"""


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


def evidence_html(answer: dict[str, Any]) -> str:
    """The evidence block of one answer (span, graph, thread or choice)."""
    ev = answer.get("evidence") or {}
    kind = ev.get("kind")
    if kind == "span":
        src = " ".join(filter(None, [e(ev.get("title") or ""),
                                     f"[{e(ev['passage_id'])}]" if ev.get("passage_id") else ""]))
        if ev.get("collection"):
            src += f" in {e(ev['collection'])}"
        if ev.get("also_in"):
            src += f" · also in {len(ev['also_in'])} more"
        meta = f'<div class="qa-meta">source: {src.strip()}</div>' if src.strip() else ""  # a text read directly
        return f'<div class="qa-evidence">{highlighted(ev.get("text", ""), ev.get("start"), ev.get("end"))}</div>{meta}'
    if kind == "graph" and not (ev.get("entities") or ev.get("path") or ev.get("sparql")):
        return ""  # nothing linked, nothing run: "linked: - / path: -" would say nothing
    if kind == "graph":
        shown = list(ev.get("entities") or [])
        anchor = ev.get("anchor")
        if anchor and all(x.get("iri") != anchor.get("iri") for x in shown):
            shown.insert(0, anchor)  # the query starts there: never leave it out of the explanation
        ents = ", ".join(f"{e(x.get('label'))} ({e(x.get('method'))} {float(x.get('score', 0)):.2f})"
                         for x in shown)
        path = " → ".join(e(s.get("label") or s.get("relation")) + (" (inverse)" if s.get("direction") == "inverse"
                                                                    else "") for s in ev.get("path", []))
        parts = [f'<div class="qa-meta">linked: {ents or "-"}</div>', f'<div class="qa-meta">path: {path or "-"}</div>']
        if ev.get("constraints"):
            parts.append(f'<div class="qa-meta">constraints: {e(", ".join(ev["constraints"]))}</div>')
        return "".join(parts)
    if kind == "thread":
        meta = [f"thread {e(ev.get('thread_id'))}"]
        if ev.get("votes") is not None:
            meta.append(f"{int(ev['votes'])} votes")
        if ev.get("accepted"):
            meta.append("accepted")
        if ev.get("source"):
            meta.append(e(ev["source"]))
        but = f'<div class="qa-meta">but: {e(ev["caveat"])}</div>' if ev.get("caveat") else ""
        title = e(ev.get("title") or ev.get("question", "")[:200])
        return (f'<div class="qa-meta">matched question: {title}</div>{but}'
                f'<div class="qa-evidence">{highlighted(ev.get("answer", ""), ev.get("start"), ev.get("end"), 500)}'
                f'</div><div class="qa-meta">{", ".join(meta)}</div>')
    if kind == "choice":
        rows = []
        for i, (opt, p) in enumerate(zip(ev.get("options", []), ev.get("probabilities", []), strict=False)):
            mark = " ✔" if i == ev.get("chosen") else ""
            rows.append(f"<li>{e(opt)} — {float(p):.3f}{mark}</li>")
        return f'<ol type="A" class="qa-evidence">{"".join(rows)}</ol>'
    return ""


def answer_html(answer: dict[str, Any], rank: int) -> str:
    """One answer: text and score, or "no answer" with the best guess, then its evidence."""
    if answer.get("no_answer"):
        out = f'<div class="qa-noanswer">#{rank} No answer (confidence {float(answer["score"]):.2f})</div>'
        guess = answer.get("best_guess")
        if guess:
            out += (f'<div class="qa-guess">best guess: <span class="qa-answer">{e(clip(guess.get("text")))}</span>'
                    f'<span class="qa-score">score {float(guess.get("score", 0)):.2f}</span></div>'
                    + evidence_html(guess))
        elif answer.get("evidence"):
            out += evidence_html(answer)
        return out
    return (f'<div>#{rank} <span class="qa-answer">{e(clip(answer.get("text")))}</span>'
            f'<span class="qa-score">score {float(answer.get("score", 0)):.2f} · {e(answer.get("route"))}</span></div>'
            + evidence_html(answer))


def sparql_of(answer: dict[str, Any]) -> str:
    ev = answer.get("evidence") or answer.get("best_guess", {}) or {}
    if ev.get("kind") != "graph" and answer.get("best_guess"):
        ev = answer["best_guess"].get("evidence") or {}
    return ev.get("sparql", "") if ev.get("kind") == "graph" else ""


def routing_html(response: dict[str, Any]) -> str:
    r = response.get("routing") or {}
    t = (response.get("timings") or {}).get("total_s")
    took = f" · {float(t):.2f} s" if t is not None else ""
    return f'<div class="qa-meta">route: <b>{e(r.get("chosen"))}</b> — {e(r.get("reason"))}{took}</div>'


def rewrite_html(response: dict[str, Any]) -> str:
    rw = response.get("rewritten")
    return f'<div class="qa-rewrite">understood as: {e(rw)}</div>' if rw else ""


def top_text(response: dict[str, Any]) -> str:
    """What the conversation remembers as this turn's answer ("" for none)."""
    answers = response.get("answers") or []
    if not answers or answers[0].get("no_answer"):
        return ""
    return str(answers[0].get("text", ""))
