"""The README's example outputs are real: each `qa ask` example it shows (the routed ones and the
community-QA ones) is asked of the shipped defaults, and the answer, its route and its score (to
within 0.02, which int8 kernels on another CPU may move) must be what the README prints; so must
its `qa chat` conversation. A refitted model or calibration that changes them fails here until the
README is updated."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SCORE_TOLERANCE = 0.02

# "$ qa ask "Q"" then "ANSWER   score S ..." and, for routed examples, "route: SOURCE — ..."
_ROUTED = re.compile(r'^\$ qa ask "(?P<q>[^"]+)"\n(?P<a>.+?)   score (?P<s>[0-9.]+).*?\n(?:.*\n)*?route: (?P<r>\w+) ',
                     re.M)
# qa ask --route cqa "Q" then "#  ANSWER   score S"
_CQA = re.compile(r'^qa ask --route cqa "(?P<q>[^"]+)"\n#  (?P<a>.+?)   score (?P<s>[0-9.]+)$', re.M)


def _examples() -> list[tuple[str, str, float, str | None]]:
    text = README.read_text(encoding="utf-8")
    out = [(m["q"], m["a"], float(m["s"]), m["r"]) for m in _ROUTED.finditer(text)]
    out += [(m["q"], m["a"], float(m["s"]), None) for m in _CQA.finditer(text)]
    return out


EXAMPLES = _examples()


def test_the_readme_shows_examples_of_every_source() -> None:
    routes = {r for *_, r in EXAMPLES}
    assert len(EXAMPLES) >= 12 and {"webqa", "kbqa", "cqa", None} <= routes, EXAMPLES


@pytest.fixture(scope="module")
def fresh_cache(tmp_path_factory: pytest.TempPathFactory):
    """A first-use cache (the community-QA store seeded as a new user's is)."""
    with pytest.MonkeyPatch.context() as mp:
        cache = tmp_path_factory.mktemp("xdg")
        mp.setenv("XDG_CACHE_HOME", str(cache))
        # the default paths were fixed when the settings module was first imported: name them
        mp.setenv("QA_CQA_STORE", str(cache / "offline-qa" / "cqa" / "threads.sqlite"))
        mp.setenv("QA_INDEX_DIR", str(cache / "offline-qa" / "collections"))
        yield


@pytest.mark.parametrize(("question", "answer", "score", "route"), EXAMPLES, ids=[q for q, *_ in EXAMPLES])
def test_readme_example_is_what_qa_ask_prints(question: str, answer: str, score: float, route: str | None,
                                              fresh_cache: None, capsys: pytest.CaptureFixture[str]) -> None:
    from qa.cli import main

    args = ["ask", question, "--json", "--top-k", "1"] + ([] if route else ["--route", "cqa"])
    assert main(args) == 0
    resp = json.loads(capsys.readouterr().out)
    top = resp["answers"][0]
    assert not top["no_answer"], resp["routing"]
    assert top["text"] == answer
    assert abs(top["score"] - score) <= SCORE_TOLERANCE, f"README shows {score}, qa ask gives {top['score']:.2f}"
    assert resp["routing"]["chosen"] == (route or "cqa")


def test_readme_chat_example_is_what_qa_chat_prints(fresh_cache: None) -> None:
    """The `qa chat` conversation the README shows: each turn's top answer and score, and the rewrite."""
    block = README.read_text(encoding="utf-8").split("$ qa chat\n", 1)[1].split("```", 1)[0]
    asked = re.findall(r"^you › (.+)$", block, re.M)
    shown = [(a, float(s)) for a, s in re.findall(r"^#1 (.+?)   score ([0-9.]+)", block, re.M)]
    rewrites = re.findall(r"^understood as: (.+)$", block, re.M)
    assert len(asked) == len(shown) >= 2 and rewrites
    done = subprocess.run([sys.executable, "-m", "qa", "chat"], input="\n".join([*asked, "/quit"]) + "\n",
                          capture_output=True, text=True, timeout=600, cwd=README.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    got = [(a, float(s)) for a, s in re.findall(r"#1 \w+ ─+╮\n│ (.+?)   score ([0-9.]+)", done.stdout)]
    assert [a for a, _ in got] == [a for a, _ in shown], done.stdout[-3000:]
    for (_, s_got), (_, s_readme) in zip(got, shown, strict=True):
        assert abs(s_got - s_readme) <= SCORE_TOLERANCE, (got, shown)
    assert re.findall(r"understood as: (.+)", done.stdout) == rewrites


def test_the_readme_python_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    """The "From Python" example is run as written, in a folder of its own, and what it prints must be
    what the README shows (numbers to within the score tolerance)."""
    import os

    text = README.read_text(encoding="utf-8")
    part = text[text.index("## From Python"):]
    code = re.search(r"```python\n(.*?)```", part, re.S)[1]  # type: ignore[index]
    shown = re.search(r"prints[^\n]*\n\n```text\n(.*?)```", part, re.S)[1].splitlines()  # type: ignore[index]
    env = {**os.environ, "QA_CQA_STORE": str(tmp_path / "threads.sqlite")}  # not the user's store
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    printed = run.stdout.splitlines()
    assert len(printed) == len(shown), (printed, shown)
    number = re.compile(r"\d+\.\d+")
    for got, want in zip(printed, shown, strict=True):
        assert number.sub("#", got) == number.sub("#", want), (got, want)
        for a, b in zip(number.findall(got), number.findall(want), strict=True):
            assert abs(float(a) - float(b)) <= SCORE_TOLERANCE, (got, want)
