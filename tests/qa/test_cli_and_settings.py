"""The application layer: settings precedence, user errors as exit code 2, and WebQA end to end
on the shipped default index and the shipped span reader."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

from qa.cli import main
from qa.core.errors import ConfigError, InputError
from qa.core.paths import MODELS_DIR
from qa.core.settings import FusionMethod, LogLevel, Settings
from qa.core.types import Answer, Question, Route

REPO = Path(__file__).resolve().parents[2]


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "qa.toml"
    cfg.write_text('top_k = 7\nspan_model = "/from/file"\n')
    monkeypatch.setenv("QA_TOP_K", "9")
    s = Settings.load(cfg)
    assert s.top_k == 9 and s.span_model == "/from/file"
    assert Settings.load(cfg, top_k=3).top_k == 3
    # the graph and the endpoint are alternatives: a graph given on the command line beats an
    # endpoint from the environment (which would otherwise override it, silently)
    monkeypatch.setenv("QA_KB_ENDPOINT", "http://127.0.0.1:9/query")
    assert Settings.load(cfg).kb_endpoint == "http://127.0.0.1:9/query"
    s = Settings.load(cfg, kb_graph="my.ttl")
    assert s.kb_graph == "my.ttl" and s.kb_endpoint == ""
    assert Settings.load(cfg, kb_graph="my.ttl", kb_endpoint="http://x/q").kb_endpoint == "http://x/q"


def test_a_misspelt_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setenv("QA_RETRIEVEK", "9")
    with caplog.at_level("WARNING"):
        assert Settings.load().retrieve_k != 9
    assert "QA_RETRIEVEK is not a setting and is ignored; did you mean QA_RETRIEVE_K?" in caplog.text


def test_every_variable_the_code_reads_is_known(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    """QA_UI_API_KEY, which the UI reads, was named "not a setting and is ignored; did you mean
    QA_API_KEY?", the very variable the README says not to lend the page."""
    import re

    from qa.core import settings as settings_module

    read = set()
    for path in REPO.glob("*/**/*.py"):
        if path.parts[len(REPO.parts)] in {"tests", "benchmarks", ".venv"}:
            continue
        read |= set(re.findall(r"environ(?:\.get\(|\[)\s*[\"'](QA_[A-Z0-9_]+)", path.read_text(encoding="utf-8")))
    assert "QA_UI_API_KEY" in read
    settings_module._warned.clear()
    for name in read:
        monkeypatch.setenv(name, "1")
    with caplog.at_level("WARNING"):
        settings_module._warn_unknown_environment(Settings.model_fields)
    assert "not a setting" not in caplog.text


def test_settings_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("top_k = = 1")
    with pytest.raises(ConfigError):
        Settings.load(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("nope = 1")
    with pytest.raises(ConfigError, match="unknown settings"):
        Settings.load(unknown)
    # a byte-order mark (Windows Notepad's UTF-8) was "not valid TOML ... at line 1, column 1"
    unknown.write_text("\ufefftop_k = 3\n", encoding="utf-8")
    assert Settings.load(unknown).top_k == 3
    # a misspelt key names the setting it most likely meant; a table names the flat settings
    unknown.write_text("kb_timout_s = 5\n[kb]\ntimeout_s = 5\n")
    with pytest.raises(ConfigError, match=r"\[kb\] \(settings are top-level names: write kb_timeout_s = \.\.\.\), "
                       r"kb_timout_s \(did you mean kb_timeout_s\?\)"):
        Settings.load(unknown)
    monkeypatch.setenv("QA_TOP_K", "many")
    with pytest.raises(ConfigError, match="QA_TOP_K='many'"):
        Settings.load()
    monkeypatch.delenv("QA_TOP_K")
    # sizes with no upper bound were an OverflowError at start-up (1e308 MB) and a 44.7 GiB
    # allocation at the first read (a billion word pieces)
    for env, value in (("QA_API_MAX_BODY_MB", "1e308"), ("QA_MAX_ANSWER_LENGTH", "1000000000"),
                       ("QA_BATCH_SIZE", "1e9"), ("QA_CHUNK_CHARS", "99999999999")):
        monkeypatch.setenv(env, value)
        with pytest.raises(ConfigError, match=f"{env}='{value}': Input should be"):
            Settings.load()
        monkeypatch.delenv(env)
    afile = tmp_path / "collections"
    afile.write_text("not a folder")
    monkeypatch.setenv("QA_INDEX_DIR", str(afile))  # `qa serve --index-dir FILE` gave a 500 at the first upload
    with pytest.raises(ConfigError, match=r"^QA_INDEX_DIR=.*: index_dir .*collections is a file: it must be a folder"):
        Settings.load()
    monkeypatch.delenv("QA_INDEX_DIR")
    monkeypatch.setenv("QA_CONFIG", str(tmp_path))  # said "settings file not found"
    with pytest.raises(ConfigError, match="is a folder: give the path of a TOML file"):
        Settings.load()


@pytest.mark.parametrize("env,value,needle", [
    ("QA_FUSION_METHOD", "bogus", "QA_FUSION_METHOD='bogus': Input should be 'convex' or 'rrf'"),
    ("QA_TOP_K", "abc", "QA_TOP_K='abc'"),
    ("QA_SPAN_BACKEND", "tpu", "QA_SPAN_BACKEND='tpu'"),
    ("QA_DEVICE", "gpu", "QA_DEVICE='gpu'"),
    ("QA_KB_MAX_HOPS", "9", "QA_KB_MAX_HOPS='9'"),
    ("QA_NULL_THRESHOLD", "nan", "QA_NULL_THRESHOLD='nan': Input should be a finite number"),
    ("QA_KB_TIMEOUT_S", "inf", "QA_KB_TIMEOUT_S='inf'"),
])
def test_bad_settings_exit_2_with_one_line(monkeypatch: pytest.MonkeyPatch, capsys, env, value, needle) -> None:
    monkeypatch.setenv(env, value)
    assert main(["ask", "What is the capital of France?"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv,needle", [
    (["ask"], "give a question, or --file with many"),
    (["ask", "Who?", "--file", "q.txt"], "give the question or --file, not both"),
    (["ask", "Who?", "--bogus"], "No such option: --bogus"),
    (["nosuch"], "No such command 'nosuch'"),
    (["ask", "Who?", "--top-k", "0"], "Invalid value for '--top-k'"),
    (["serve", "--port", "abc"], "Invalid value for '--port'"),
    (["cqa"], "no command given"),  # a group without its command: its help, then one line
])
def test_a_bad_command_line_exits_2_with_its_usage_not_a_traceback(capsys, argv, needle) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and "usage: qa" in err and len(err.strip().splitlines()) == 1


def test_ctrl_c_says_so_and_exits_130() -> None:
    """A real SIGINT while `qa ask -` waits for its question on standard input."""
    import signal
    import subprocess
    import time

    # a child inherits an ignored SIGINT (earlier tests' servers may leave this process ignoring it),
    # and Python then installs no KeyboardInterrupt at all: start it as a terminal would
    proc = subprocess.Popen([sys.executable, "-m", "qa", "ask", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    stat = Path(f"/proc/{proc.pid}/stat")

    def cpu_ticks() -> int:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    # wait until it is blocked on standard input (no CPU for half a second): on a loaded machine the
    # imports alone can take longer than any fixed sleep
    deadline, last, idle = time.monotonic() + 60, -1, 0
    while time.monotonic() < deadline and idle < 5 and stat.exists():
        ticks = cpu_ticks()
        idle, last = (idle + 1 if ticks == last else 0), ticks
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted: stopped before finishing" and out == ""


@pytest.mark.parametrize("word", ["none", "None", ""])
def test_optional_thresholds_are_unset_by_the_word_config_shows(word: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_NULL_THRESHOLD", word)
    monkeypatch.setenv("QA_KB_MIN_CONFIDENCE", word)
    s = Settings.load()
    assert s.null_threshold is None and s.kb_min_confidence is None
    monkeypatch.setenv("QA_NULL_THRESHOLD", "-1.5")
    assert Settings.load().null_threshold == -1.5


def test_settings_enums_and_explicit_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_FUSION_METHOD", "rrf")
    s = Settings.load(top_k=4)
    assert s.fusion_method == FusionMethod.RRF and s.explicitly_set("top_k") and not s.explicitly_set("read_k")


def test_a_closed_set_setting_is_read_in_any_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # operators write log levels as Python's logging spells them; the word is the same in any case
    monkeypatch.setenv("QA_API_LOG_LEVEL", "WARNING")
    cfg = tmp_path / "qa.toml"
    cfg.write_text('fusion_method = " RRF "\n')
    s = Settings.load(cfg)
    assert s.api_log_level == LogLevel.WARNING and s.fusion_method == FusionMethod.RRF
    monkeypatch.setenv("QA_API_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigError, match="debug"):
        Settings.load()


def test_qa_config_shows_each_setting_and_its_origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import json

    cfg = tmp_path / "qa.toml"
    cfg.write_text("read_k = 4\n")
    monkeypatch.setenv("QA_CONFIG", str(cfg))
    monkeypatch.setenv("QA_TOP_K", "5")
    assert main(["config", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert set(shown) == set(Settings.model_fields)
    assert shown["top_k"] == {"value": 5, "origin": "environment"}
    assert shown["read_k"] == {"value": 4, "origin": str(cfg)}
    assert shown["fusion_method"] == {"value": "convex", "origin": "default"}
    monkeypatch.setenv("QA_API_KEY", "supersecret")  # set, and where from, but never the key itself
    assert main(["config", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["api_key"] == {"value": "***", "origin": "environment"}
    assert main(["config", "--json", "--markdown"]) == 2  # markdown had been printed, --json dropped
    assert "give --json or --markdown, not both" in capsys.readouterr().err
    assert main(["config"]) == 0
    piped = capsys.readouterr().out
    assert "supersecret" not in piped
    # piped: a line each, the whole value (the table cut long paths to the terminal's 80 columns)
    assert f"read_k\t4\t{cfg}" in piped.splitlines()
    monkeypatch.setenv("QA_KB_ENDPOINT", "http://bob:s3cret@127.0.0.1:7878/query")  # credentials in a URL
    assert main(["config", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kb_endpoint"]["value"] == "http://bob:***@127.0.0.1:7878/query"


@pytest.mark.parametrize(("env", "said"), [
    ({"QA_API_KEY": " s3cret "}, "printable ASCII"),  # h11 trims header values: it could never match
    ({"QA_API_KEY": "clé-secrète"}, "printable ASCII"),  # headers are latin-1 on one side, UTF-8 on the other
    ({"QA_API_KEY_FOR_READS": "true"}, "needs api_key"),  # reads would stay open while said closed
    ({"QA_INDEX_DIR": ""}, "is empty"),  # the working folder
    ({"QA_API_URL": "localhost:8000"}, "http:// or https://"),
    ({"QA_API_URL": "http://[::1"}, "not a URL"),
    # a refused value's password and a refused key are masked in the line, as `qa config` masks them
    ({"QA_API_URL": "http://bob:pw@host:abc/"}, "'http://bob:***@host:abc/': not a URL"),
    ({"QA_KB_ENDPOINT": "http://bob:pw@host:abc/"}, "'http://bob:***@host:abc/'"),
    ({"QA_API_KEY": " s3cret "}, "QA_API_KEY='***'"),
])
def test_settings_that_could_never_work_are_refused_when_they_load(env: dict[str, str], said: str, monkeypatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["QA_API_KEY", "QA_KB_ENDPOINT", "QA_API_URL"])
def test_settings_sent_as_text_refuse_undecodable_bytes(name: str, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Undecodable environment bytes arrive as lone surrogates; such a key or URL could never be
    sent, so it is refused when the settings load, not as a 500 or a traceback later."""
    monkeypatch.setenv(name, "http://x/caf\udce9")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert "not valid UTF-8 text" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_readme_documents_every_setting() -> None:
    """The README's settings table is the one `qa config --markdown` makes from the model, so a
    new or changed setting cannot go undocumented."""
    from qa.core.paths import REPO_ROOT
    from qa.core.settings import settings_markdown

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_markdown() in readme, "README's settings table is stale: paste `qa config --markdown`"


def test_question_validation() -> None:
    with pytest.raises(InputError):
        Question("   ")
    with pytest.raises(InputError):
        Question("x" * 1_000_000)
    assert Question("Who?").text == "Who?"
    none = Answer.none(Route.WEBQA, score=0.9)
    assert none.no_answer and none.to_dict()["route"] == "webqa"
    with pytest.raises(InputError, match="not valid UTF-8"):
        Question("caf\udce9?")  # how Python hands over undecodable command-line bytes


@pytest.mark.parametrize("argv", [["ask", ""], ["ask", "x" * 100_000], ["read", "--context", "c", "--question", ""]])
def test_bad_questions_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_megabyte_question_on_stdin_exit_2(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a" * 1_000_000)))
    assert main(["ask", "-"]) == 2
    assert "longer than the limit" in capsys.readouterr().err


def test_missing_model_folder_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "--context", "Paris is in France.", "--question", "Where?", "--model",
                 str(tmp_path / "none")]) == 2
    assert "not found" in capsys.readouterr().err


def test_a_named_span_reader_that_is_missing_is_exit_2_for_qa_ask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """It printed "No answer (confidence 1.00)" with exit 0: two sources had no reader."""
    assert main(["ask", "Who wrote Hamlet?", "--model", str(tmp_path / "none")]) == 2
    assert "model folder not found" in capsys.readouterr().err
    monkeypatch.setenv("QA_SPAN_MODEL", str(tmp_path / "none"))
    assert main(["ask", "Who wrote Hamlet?"]) == 2
    err = capsys.readouterr().err.strip()
    assert "(from QA_SPAN_MODEL / span_model)" in err and len(err.splitlines()) == 1
    # a folder that exists but holds no model (a parent folder, say) is the same mistake
    assert main(["ask", "Who wrote Hamlet?", "--model", str(tmp_path)]) == 2
    assert "is not a Hugging Face model folder" in capsys.readouterr().err


def test_qa_chat_refuses_at_the_start_what_qa_ask_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """It answered every line with a warning and "No answer", or an error, and exited 0."""
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("When is Quuxle shipped?\n"))
    (tmp_path / "docs").mkdir()
    assert main(["chat", "--index", str(tmp_path / "docs")]) == 2
    assert "is not an index folder" in capsys.readouterr().err
    assert main(["chat", "--collection", "nope"]) == 2
    assert "no collection named 'nope'" in capsys.readouterr().err
    monkeypatch.setenv("QA_SPAN_MODEL", str(tmp_path / "none"))
    assert main(["chat"]) == 2
    assert "model folder not found" in capsys.readouterr().err
    monkeypatch.delenv("QA_SPAN_MODEL")
    monkeypatch.setenv("QA_CQA_JUDGE_MODEL", str(tmp_path / "judge"))  # a mistyped judge: refused, not "failed"
    for argv in (["chat"], ["ask", "Who wrote Hamlet?"]):
        assert main(argv) == 2
        assert "(from QA_CQA_JUDGE_MODEL / cqa_judge_model)" in capsys.readouterr().err
    monkeypatch.delenv("QA_CQA_JUDGE_MODEL")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"Who wrote Hamlet?\n"), encoding="utf-8"))
    assert main(["chat", "--collection", "all", "--route", "webqa"]) == 0  # every collection, as /collection all
    captured = capsys.readouterr()
    assert "no collection named" not in captured.err
    assert "> Who wrote Hamlet?" in captured.out  # piped: each answer under its question (they came unlabelled)


def test_missing_index_folder_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Where is Paris?", "--index", str(tmp_path / "none")]) == 2
    assert "index folder not found" in capsys.readouterr().err


@pytest.mark.skipif(not (MODELS_DIR / "span-minilm-l6" / "config.json").exists(), reason="no shipped reader")
def test_webqa_answers_from_the_default_collection() -> None:
    from qa.webqa import WebQA

    answers = WebQA(Settings.load()).answer("Who developed the theory of general relativity?", top_k=3, read_k=4)
    assert answers and not answers[0].no_answer
    top = answers[0]
    assert "Einstein" in top.text
    assert top.route == "webqa" and 0.0 <= top.score <= 1.0
    ev = top.span
    assert ev is not None and ev.text[ev.start : ev.end] == top.text and top.source_id not in ev.also_in
    assert {"retrieve_s", "read_s"} <= set(top.timings)
    texts = [a.text.lower() for a in answers if not a.no_answer]
    assert len(texts) == len(set(texts))  # identical answers are merged
    assert [a.score for a in answers] == sorted((a.score for a in answers), reverse=True)


def test_chat_commands_say_what_they_did_and_a_typo_is_an_error() -> None:
    import subprocess

    run = subprocess.run([sys.executable, "-m", "qa", "chat"],
                         input="/route bogus\n/route\n/route kbqa\n/collection nosuch\n/collection\n/bogus\n/quit\n",
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "error: unknown route 'bogus'" in run.stderr and "(route: kbqa)" in run.stdout
    assert "(route: auto; /route" in run.stdout  # /route alone says where it is
    assert "no collection named 'nosuch'" in run.stderr and "(collection: all; known: default" in run.stdout
    assert "error: not a command: '/bogus'" in run.stderr


def test_serve_refuses_an_empty_host_and_a_busy_port_and_brackets_ipv6(monkeypatch, capsys) -> None:
    """An empty QA_API_HOST made the API listen on every interface; a busy port printed the
    addresses of servers that never started; --host ::1 was a traceback (http://::1:8000)."""
    import socket

    from qa.core.settings import http_url

    monkeypatch.setenv("QA_API_HOST", "")
    assert main(["serve", "--no-ui", "--port", "18999"]) == 2
    assert "QA_API_HOST" in capsys.readouterr().err
    monkeypatch.delenv("QA_API_HOST")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--no-ui", "--port", str(port)]) == 2
        assert f"port {port} on 127.0.0.1 is in use" in capsys.readouterr().err
    assert http_url("::1", 8000) == "http://[::1]:8000" and http_url("127.0.0.1", 80) == "http://127.0.0.1:80"
    assert main(["serve", "--no-ui", "--host", "nosuch.invalid"]) == 2  # not "port in use"
    assert "cannot listen on host 'nosuch.invalid'" in capsys.readouterr().err
    assert main(["serve", "--port", "18998", "--ui-port", "18998"]) == 2
    assert "cannot both listen on port 18998" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "value", "said"), [
    ("QA_KB_GRAPH", "missing.ttl", "graph file not found"),
    ("QA_KB_GRAPH", ".", "is a folder"),
    ("QA_KB_GRAPH", "/dev/null", "/dev/null (from QA_KB_GRAPH / kb_graph) is not a regular file"),
    ("QA_KB_SCORER", "missing.json", "scorer file not found"),
    ("QA_CQA_STORE", ".", "is a folder"),
    ("QA_CQA_STORE", "notes.txt", "notes.txt is not a thread store: file is not a database"),
    ("QA_CQA_STORE", "other.sqlite", "other.sqlite is not a thread store (it holds other tables: invoices)"),
])
def test_a_source_file_the_user_configured_must_be_there(name: str, value: str, said: str, monkeypatch,
                                                         tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in QA_KB_GRAPH left the graph out with a warning while the other sources answered,
    exit 0 (exit 2 with --route kbqa): refused before anything loads, naming the setting. A thread
    store that is some other file was passed over in silence the same way."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    import sqlite3

    with sqlite3.connect(tmp_path / "other.sqlite") as conn:  # another program's database
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    monkeypatch.setenv(name, value)
    assert main(["ask", "What is the capital of France?"]) == 2
    err = capsys.readouterr().err
    assert said in err and name in err and len(err.strip().splitlines()) == 1


def test_a_raised_question_limit_holds_for_the_reader_too(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    """QA_MAX_QUESTION_CHARS raised: `qa read` (and the span reader under every source) kept the
    built-in 2,000."""
    monkeypatch.setenv("QA_MAX_QUESTION_CHARS", "5000")
    question = "What is the capital of France and " * 90 + "?"
    assert main(["read", "--context", "Paris is the capital of France.", "--question", question]) == 0
    assert "limit" not in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "said"), [
    (["serve", "--port", "70000"], "invalid value for --port (70000): Input should be less than or equal to 65535"),
    (["serve", "--host", ""], "invalid value for --host (''): "),
    (["eval", "race", "missing.jsonl", "--batch-size", "0"], "invalid value for --batch-size (0): "),
    (["eval", "squad", "missing.json", "--batch-size", "0"], "invalid value for --batch-size (0): "),
])
def test_an_option_that_becomes_a_setting_is_refused_under_its_own_name(capsys, argv, said) -> None:
    """A bad value was refused as "setting api_port=70000", a name the user never typed; and the
    evaluation commands found a bad --batch-size only after loading the whole data file."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and said in err, err


class _Chat:
    """`qa chat` on a pseudo-terminal: what it has printed so far (`seen`), and `until` a mark."""

    def __init__(self, env: dict[str, str], *args: str, stdout: Path | None = None) -> None:
        import os
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            import signal

            # as at a terminal: a run started in the background by a script (`.ci/run &`) ignores
            # SIGINT, the child would inherit that, and Python then never raises KeyboardInterrupt
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            if stdout is not None:  # `qa chat > transcript.txt` typed at a terminal
                os.dup2(os.open(stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 1)
            os.execve(sys.executable, [sys.executable, "-m", "qa", "chat", *args], env)
        self.seen = b""

    def until(self, mark: bytes, timeout: float = 180) -> bool:
        import os
        import select
        import time

        end = time.monotonic() + timeout
        while mark not in self.seen and time.monotonic() < end:
            if select.select([self.fd], [], [], 0.2)[0]:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                self.seen += chunk
        return mark in self.seen

    def after(self, mark: bytes) -> None:
        """Forget what came before `mark` (the next prompt may have come in the same read)."""
        self.seen = self.seen[self.seen.index(mark):]

    def quit_cleanly(self) -> int:
        import os

        os.write(self.fd, b"/quit\r")
        self.until(b"\x00never", 20)
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)

    def close(self) -> None:
        import os

        with contextlib.suppress(ChildProcessError, ProcessLookupError):
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_chat_at_a_terminal_refuses_a_line_that_is_not_utf8_and_goes_on(tmp_path: Path) -> None:
    """At a prompt, input() decoded strictly (a UTF-8 locale): a Latin-1 "café" typed or pasted
    was a UnicodeDecodeError traceback, exit 1, and the conversation was gone."""
    import os

    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict", COLUMNS="100", QA_CQA_SEED="false",
               QA_CQA_STORE=str(tmp_path / "t.sqlite"))
    chat = _Chat(env, "--route", "cqa", "--no-explain")
    try:
        assert chat.until(b"you "), chat.seen
        os.write(chat.fd, b"caf\xe9?\r")
        assert chat.until(b"not valid UTF-8"), chat.seen
        chat.after(b"not valid UTF-8")
        assert chat.until(b"you "), chat.seen  # the conversation goes on
        assert chat.quit_cleanly() == 0 and b"Traceback" not in chat.seen, chat.seen
    finally:
        chat.close()


def test_ctrl_c_in_chat_stops_the_answer_not_the_conversation(tmp_path: Path) -> None:
    """A Ctrl-C while an answer was worked out ended the session (exit 130), its history and its
    loaded models with it."""
    import os
    import signal
    import time

    # a hundred passages read for a long question: the answer takes seconds whatever the router does
    chat = _Chat(dict(os.environ, COLUMNS="100", QA_CQA_STORE=str(tmp_path / "t.sqlite"), QA_READ_K="100"),
                 "--route", "webqa", "--no-explain")
    try:
        assert chat.until(b"you "), chat.seen
        chat.seen = b""
        long = "Who discovered penicillin " + "in the old laboratory of the London hospital " * 40
        os.write(chat.fd, long.strip().encode() + b"?\r")
        assert chat.until(b"hospital?"), chat.seen  # the line has reached it (the terminal's echo)
        time.sleep(1.0)
        os.kill(chat.pid, signal.SIGINT)
        assert chat.until(b"(stopped: that question was not answered"), chat.seen
        chat.after(b"(stopped")
        assert chat.until(b"you "), chat.seen  # the conversation goes on
        assert chat.quit_cleanly() == 0 and b"Traceback" not in chat.seen, chat.seen
    finally:
        chat.close()


def test_chat_typed_at_a_terminal_into_a_file_shows_its_prompt_and_keeps_the_questions(tmp_path: Path) -> None:
    """`qa chat > transcript.txt`: the prompt went into the file (the user saw none) and the file
    had the answers without their questions; a Ctrl-C at the prompt said "stopped before finishing"."""
    import os
    import signal

    transcript = tmp_path / "transcript.txt"
    chat = _Chat(dict(os.environ, COLUMNS="100", QA_CQA_SEED="false", QA_CQA_STORE=str(tmp_path / "t.sqlite")),
                 "--route", "cqa", "--no-explain", stdout=transcript)
    try:
        assert chat.until(b"you "), chat.seen  # on the terminal
        os.write(chat.fd, b"Where is the canteen?\r")
        assert chat.until(b"canteen?"), chat.seen  # the terminal's echo
        chat.after(b"canteen?")
        assert chat.until(b"you "), chat.seen
        os.kill(chat.pid, signal.SIGINT)  # at the prompt: the conversation ends
        assert chat.until(b"interrupted: the conversation ended"), chat.seen
        _, status = os.waitpid(chat.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 130
    finally:
        chat.close()
    written = transcript.read_text(encoding="utf-8")
    assert "> Where is the canteen?" in written and "you " not in written and "Loading" not in written


def test_a_data_dir_that_is_no_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in QA_DATA_DIR answered with an untrained graph scorer and router (Paris 0.76 instead
    of 0.91), exit 0 and no word."""
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "nope"))
    assert main(["kbqa", "What is the capital of France?"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "QA_DATA_DIR=" in err and "is not a folder" in err, err


def test_a_context_file_that_unpacks_past_the_limit_is_refused_without_reading_it_whole(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 1.7 MB gzip of 400 million characters was unpacked whole (854 MB) before the length check."""
    import gzip

    from qa.core.text import read_text

    bomb = tmp_path / "bomb.txt.gz"
    with gzip.open(bomb, "wb") as fh:
        for _ in range(10):
            fh.write(b"a" * 1_000_000)
    assert main(["read", "--context-file", str(bomb), "--question", "What?"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "longer than the limit of 2,000,000 characters" in err, err
    small = tmp_path / "ok.txt"
    small.write_text("é" * 100, encoding="utf-8")
    assert read_text(small, 100) == "é" * 100  # exactly at the limit, two bytes a character


def test_chat_skips_a_line_longer_than_any_question_without_holding_it(monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from qa.commands import chat as chat_module

    monkeypatch.setattr(chat_module, "MAX_LINE_BYTES", 64)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"x" * 1000 + b"\n/quit\n"), encoding="utf-8"))
    assert list(chat_module._lines(False)) == ["/quit"]
    assert "longer than any question may be; skipped" in capsys.readouterr().err


def test_qa_read_takes_between_two_and_26_options(capsys: pytest.CaptureFixture[str]) -> None:
    """The 27th option was labelled "26" after "Z", the 28th "27": the labels said nothing."""
    base = ["read", "--context", "Tom likes apples.", "--question", "What does Tom like?"]
    assert main([*base, "-o", "apples"]) == 2
    assert "at least two --option" in capsys.readouterr().err
    assert main([*base, *[x for i in range(27) for x in ("-o", f"option {i}")]]) == 2
    assert "at most 26 --option values" in capsys.readouterr().err


@pytest.mark.parametrize(("line", "said"), [("top_k = true", "top_k = True: is true or false"),
                                            ("include_default = 0", "include_default = 0: is a number")])
def test_the_settings_file_refuses_true_for_a_number_and_a_number_for_true(tmp_path: Path, line: str,
                                                                           said: str) -> None:
    """TOML values are typed: `top_k = true` was taken as 1 and `include_default = 0` as false."""
    cfg = tmp_path / "qa.toml"
    cfg.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=said):
        Settings.load(cfg)


def test_an_empty_data_dir_is_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    """An existing folder holding none of what is read from it answered with an untrained router
    and graph scorer (Paris 0.76 instead of 0.91) without a word."""
    empty = tmp_path / "data"
    empty.mkdir()
    monkeypatch.setenv("QA_DATA_DIR", str(empty))
    with caplog.at_level("WARNING", logger="qa.settings"):
        Settings.load()
        Settings.load()
    assert caplog.text.count("holds no router/, calibration/ or kb/") == 1
    # until `qa train` writes there, the shipped ones are read: every routed question stopped
    # with "the router model .../router/router.json is missing"
    from kb.artefacts import shipped_scorer
    from qa.core.paths import DATA_DIR
    from qa.models import shared_encoder
    from qa.router import Router

    settings = Settings.load()
    assert Router(settings, shared_encoder(settings)).order("What is the capital of Australia?", list(Route))
    assert shipped_scorer(settings) == DATA_DIR / "kb" / "scorer.json"
    (empty / "kb").mkdir()
    (empty / "kb" / "scorer.json").write_text("{}", encoding="utf-8")
    assert shipped_scorer(settings) == empty / "kb" / "scorer.json"  # its own, once there


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog) -> None:
    """The collections and the thread store moved with the folder qa ran in (the XDG
    specification says a relative value is to be ignored)."""
    from qa.core.paths import cache_dir

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relcache")
    with caplog.at_level("WARNING", logger="qa"):
        assert cache_dir() == tmp_path / ".cache" / "offline-qa"
        cache_dir()
    assert caplog.text.count("XDG_CACHE_HOME=relcache is not an absolute path and is ignored") == 1
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "abs"))
    assert cache_dir() == tmp_path / "abs" / "offline-qa"


def test_options_that_contradict_each_other_are_refused(tmp_path, capsys) -> None:
    """Each was accepted and one of the two dropped without a word: the graph answered though a
    passage collection was named alone, the endpoint was asked though a graph file was given."""
    graph = tmp_path / "g.ttl"
    graph.write_text("@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\n", encoding="utf-8")
    for argv, needle in (
        (["ask", "What is the capital of France?", "--route", "kbqa", "--collection", "notes"],
         "goes with the route webqa or auto, not kbqa"),
        (["kbqa", "What is the capital of France?", "--graph", str(graph), "--endpoint", "http://127.0.0.1:9/q"],
         "give --graph or --endpoint, not both"),
        (["kb", "train", "--graph", str(graph), "--endpoint", "http://127.0.0.1:9/q"],
         "give --graph or --endpoint, not both"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("env", [{"QA_MAX_SEQ_LENGTH": "64"}, {"QA_DOC_STRIDE": "1000"}])
def test_reader_windows_without_room_for_the_question_exit_2(env, monkeypatch, capsys) -> None:
    """Every passage-reading source failed on every question with a warning, and "no answer" came
    out with exit 0 (exit 2 with --route webqa)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["ask", "Who wrote Hamlet?"]) == 2
    err = capsys.readouterr().err
    assert "is too large for max_seq_length" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("group", [[], ["kb"], ["train"], ["cqa"]])
def test_command_listings_wrap_where_the_terminal_ends(group: list[str], monkeypatch, capsys) -> None:
    """The listing kept each docstring's own line breaks: at 80 columns `qa --help` broke "answered"
    from "questions" mid-line, and `qa kb --help` cut `train`'s text into ragged lines."""
    monkeypatch.setenv("COLUMNS", "80")
    assert main([*group, "--help"]) == 0
    panel = capsys.readouterr().out.split("Commands")[1]
    inner = [line.strip()[1:-1].rstrip() for line in panel.splitlines()[1:] if line.startswith("│")]
    # a line that ends far short of the panel's width and is continued (the next line has no name)
    short = [i for i, line in enumerate(inner[:-1]) if len(line) < 60 and inner[i + 1].startswith("   ")]
    assert not short, [inner[i] for i in short]


def test_a_home_folder_of_no_known_user_is_one_line_not_a_traceback(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("QA_INDEX_DIR", "~no-such-user-here/collections")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert "a path opens with ~ or ~name" in " ".join(err.split()) and "Traceback" not in err
    monkeypatch.delenv("QA_INDEX_DIR")
    qs = tmp_path / "q.txt"
    qs.write_text("Who wrote Emma?\n", encoding="utf-8")
    assert main(["ask", "--file", str(qs), "--out", "~no-such-user-here/a.jsonl"]) == 2
    assert "a path opens with ~ or ~name" in " ".join(capsys.readouterr().err.split())


def test_training_commands_refuse_an_unwritable_out_before_the_work(tmp_path: Path, capsys) -> None:
    train_file = tmp_path / "train.json"
    train_file.write_text('{"data": []}', encoding="utf-8")
    for argv in (["train", "router", "--out", str(tmp_path)],
                 ["train", "calibrate-webqa", "--train-file", str(train_file), "--out", str(tmp_path)]):
        assert main(argv) == 2
        assert "it is a folder" in capsys.readouterr().err


def test_calibrating_on_another_file_than_the_readers_own_is_refused(tmp_path: Path, capsys) -> None:
    """Any file but the reader's own training file was an IndexError (its held-out article numbers
    pointed past the end)."""
    train_file = tmp_path / "train.json"
    train_file.write_text('{"data": [{"title": "t", "paragraphs": []}]}', encoding="utf-8")
    assert main(["train", "calibrate-webqa", "--train-file", str(train_file), "--limit", "5",
                 "--out", str(tmp_path / "webqa.json")]) == 2
    err = capsys.readouterr().err
    assert "is not the file the span reader was trained on" in " ".join(err.split()) and "Traceback" not in err


@pytest.mark.parametrize(("text", "needle"), [
    ('{"question": "a"}\n\nnot json\n', "records.jsonl:3: invalid JSON"),
    ('{"question": "a"}\n', "is not a file of candidates written by --records"),
])
def test_a_malformed_records_file_is_one_line(tmp_path: Path, capsys, text: str, needle: str) -> None:
    train_file = tmp_path / "train.json"
    train_file.write_text('{"data": []}', encoding="utf-8")
    records = tmp_path / "records.jsonl"
    records.write_text(text, encoding="utf-8")
    assert main(["train", "calibrate-webqa", "--train-file", str(train_file), "--records", str(records),
                 "--out", str(tmp_path / "webqa.json")]) == 2
    err = capsys.readouterr().err
    assert needle in " ".join(err.split()) and "Traceback" not in err


def test_paths_expand_home_and_a_settings_files_relative_paths_are_beside_it(tmp_path, monkeypatch):
    """`QA_KB_GRAPH='~/company.ttl'` passed the start-up check (which expanded it) and then failed to
    load as a folder named "~"; a relative graph in /etc/qa/qa.toml was looked for wherever qa ran."""
    from qa.core.settings import Settings

    home, conf, elsewhere = tmp_path / "home", tmp_path / "conf", tmp_path / "elsewhere"
    for d in (home, conf / "graphs", elsewhere):
        d.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("QA_KB_GRAPH", "~/company.ttl")
    assert Settings.load().kb_graph == str(home / "company.ttl")
    monkeypatch.delenv("QA_KB_GRAPH")
    (conf / "qa.toml").write_text('kb_graph = "graphs/company.ttl"\nkb_scorer = "/abs/scorer.json"\n')
    s = Settings.load(conf / "qa.toml")
    assert s.kb_graph == str(conf / "graphs" / "company.ttl") and s.kb_scorer == "/abs/scorer.json"
    (elsewhere / "qa.toml").write_text('kb_graph = "company.ttl"\n')  # ./qa.toml: the working folder, as before
    assert Settings.load().kb_graph == "company.ttl"


def test_an_index_dir_naming_one_collection_or_a_file_is_refused_and_a_missing_one_said(tmp_path, monkeypatch, capsys,
                                                                                     caplog):
    """QA_INDEX_DIR set to a collection's own folder (or a typo) answered every question about the
    user's notes with "no answer", exit 0: only the embedded collection was searched."""
    from retrieval.ingest import index_path

    docs = tmp_path / "notes"
    docs.mkdir()
    (docs / "a.md").write_text("# Release\n\nThe Falcon release ships on March 14.\n", encoding="utf-8")
    index_path(docs, tmp_path / "idx" / "notes", Settings(include_default=False), progress=False)
    for value, needle in ((tmp_path / "idx" / "notes", "is one collection's index; give the folder that holds"),
                          (docs / "a.md", "is a file: it must be a folder")):
        monkeypatch.setenv("QA_INDEX_DIR", str(value))
        assert main(["ask", "When does the Falcon release ship?", "--route", "webqa"]) == 2
        assert needle in " ".join(capsys.readouterr().err.split())
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "idxx"))
    monkeypatch.setenv("QA_INCLUDE_DEFAULT", "false")
    with caplog.at_level("WARNING"):
        main(["ask", "When does the Falcon release ship?", "--route", "webqa"])
    assert f"no folder {tmp_path / 'idxx'} (from QA_INDEX_DIR / index_dir)" in caplog.text


def test_a_kill_stops_a_running_server_and_says_so_not_that_it_stopped_before_finishing(tmp_path) -> None:
    """`kill` on an idle `qa serve` said "terminated: stopped before finishing", as for work cut short."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "QA_INCLUDE_DEFAULT": "false", "QA_ROUTE": "webqa"}
    proc = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--no-ui", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # serving once it says how to stop it
            if "Ctrl-C stops it" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143 and "terminated: the API stopped" in err and "before finishing" not in err, err


def test_serve_names_the_extras_that_hold_what_is_missing(monkeypatch) -> None:
    """It said `pip install -e ".[api,ui]"` whatever was missing, and from a wheel there is no "."."""
    import importlib.util

    import qa.core.paths
    from qa.commands.serve import _check_installed
    from qa.core.errors import ConfigError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "streamlit" else real(name, *a))
    with pytest.raises(ConfigError, match=r'needs streamlit: pip install -e "\.\[ui\]"'):
        _check_installed(ui=True)
    _check_installed(ui=False)  # the API alone needs no streamlit
    monkeypatch.setattr(qa.core.paths, "REPO_ROOT", qa.core.paths.REPO_ROOT / "site-packages")
    with pytest.raises(ConfigError, match=r'pip install "offline-qa\[ui\]"'):
        _check_installed(ui=True)


@pytest.mark.parametrize(("env", "args", "stdin", "said"), [
    ({"COLUMNS": "0"}, ["index", "/no/such/folder"], None, "/no/such/folder does not exist"),  # rich printed nothing
    ({"PYTHONIOENCODING": "ascii"}, ["index", "/no/such/caf\u00e9"], None, "/no/such/caf?"),  # a traceback
    ({}, ["ask", "-"], subprocess.DEVNULL, "the question is empty"),
    ({}, ["ask", "-"], "closed", ""),  # stdin closed: an AttributeError traceback
    ({}, ["config"], "stdout closed", "standard output is closed"),  # exit 0, the output written nowhere
])
def test_odd_streams_and_terminals_get_a_line_not_a_traceback(env, args, stdin, said) -> None:
    import os
    import shlex
    import sys

    from qa.core.paths import REPO_ROOT

    command = [sys.executable, "-c", "import sys; from qa.cli import main; sys.exit(main(sys.argv[1:]))", *args]
    if stdin == "closed":  # as a shell's `<&-` starts it: no standard input at all
        command, stdin = ["bash", "-c", shlex.join(command) + " <&-"], None
    elif stdin == "stdout closed":
        command, stdin = ["bash", "-c", shlex.join(command) + " >&-"], None
    done = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, timeout=120,
                          stdin=stdin)
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 2 and "Traceback" not in err and "error:" in err and said in err, err


def test_json_output_is_json_whatever_the_terminal(monkeypatch, capsys) -> None:
    """FORCE_COLOR=1 (as CI sets it) coloured `--json` output, which was then no JSON."""
    import json

    from qa.render import print_json

    monkeypatch.setenv("FORCE_COLOR", "1")
    print_json('{"question": "Qui a \\u00e9crit?", "answers": []}')
    assert json.loads(capsys.readouterr().out) == {"question": "Qui a \u00e9crit?", "answers": []}
    # output that cannot hold every character gets escapes, which lose nothing (not "Qui a ?crit")
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii", errors="replace"))
    print_json('{"question": "Qui a \\u00e9crit?"}')
    assert json.loads(raw.getvalue()) == {"question": "Qui a \u00e9crit?"}


def test_qa_version_names_the_release(capsys) -> None:
    """There was no way to tell which release a machine runs (CHANGELOG.md says what each changed)."""
    import qa
    from qa.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"qa (offline-qa) {qa.__version__}"


def test_an_api_key_is_masked_whatever_its_type(tmp_path, monkeypatch) -> None:
    """A key given as a number or a list in qa.toml was shown whole in the error line."""
    from qa.core.errors import ConfigError
    from qa.core.settings import Settings, unsecret

    assert unsecret("api_key", 12345678) == "***" and unsecret("api_key", ["TOMLSECRET"]) == "***"
    assert unsecret("api_key", "") == ""  # not set: said so
    cfg = tmp_path / "qa.toml"
    cfg.write_text("api_key = 12345678\n")
    with pytest.raises(ConfigError) as refused:
        Settings.load(cfg)
    assert "12345678" not in str(refused.value) and "***" in str(refused.value)
    # a notebook showing its settings, a log line or a traceback printing them: masked as qa config masks them
    shown = Settings(api_key="s3cret-key", kb_endpoint="https://bob:pw@example.org/sparql")
    for text in (repr(shown), str(shown)):
        assert "s3cret" not in text and ":pw@" not in text and "https://bob:***@example.org/sparql" in text
    assert shown.api_key == "s3cret-key"  # the value itself is the caller's
    assert unsecret("kb_endpoint", "bob:pw@example.org/sparql") == "bob:***@example.org/sparql"  # no scheme
    assert unsecret("kb_endpoint", "TOKEN@example.org") == "***@example.org"
    assert unsecret("kb_endpoint", "bob:p@ss@host/sparql") == "bob:***@host/sparql"  # "ss" was shown
    assert unsecret("kb_endpoint", "bob:pa/ss@host/sparql") == "bob:***@host/sparql"  # was not masked at all


def test_settings_and_questions_built_from_python_raise_the_librarys_errors() -> None:
    """pydantic's own ValidationError escaped a caller's `except QAError`."""
    from qa.core.errors import ConfigError, InputError
    from qa.core.settings import Settings
    from qa.core.types import Question

    with pytest.raises(ConfigError, match="top_k"):
        Settings(top_k=0)
    with pytest.raises(ConfigError, match="bogus"):
        Settings(bogus=1)
    s = Settings()
    with pytest.raises(ConfigError, match="top_k"):
        s.top_k = 0
    assert s.top_k == 3
    with pytest.raises(InputError, match="history"):
        Question("Who is it?", history="abc")
    with pytest.raises(InputError, match="max_chars"):
        Question("Who is it?", max_chars="x")


def test_the_cache_folder_is_made_for_its_user_alone(tmp_path, monkeypatch) -> None:
    """It holds copies of the user's documents: made 0755, a 0600 note was readable by anyone
    through the index built from it."""
    import stat

    from qa.core.paths import private_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = private_cache()
    assert stat.S_IMODE(root.stat().st_mode) == 0o700 and stat.S_IMODE(root.parent.stat().st_mode) == 0o700
    root.chmod(0o750)  # the owner's own choice is kept
    assert stat.S_IMODE(private_cache().stat().st_mode) == 0o750


def test_files_nested_past_the_parsers_depth_are_malformed_files_not_tracebacks(tmp_path: Path, monkeypatch,
                                                                                 capsys) -> None:
    """A settings file, a collection's manifest, a scorer, a router or a calibration nested
    hundreds of thousands deep was a RecursionError traceback; a collection so damaged could not
    even be deleted."""
    from kb.scorer import Scorer
    from qa.calibration import AnswerCalibrator
    from qa.core.errors import DataFormatError
    from qa.router import RouteClassifier

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    for load in (Scorer.load, RouteClassifier.load, AnswerCalibrator.load):
        with pytest.raises(DataFormatError, match="nested too deeply"):
            load(deep)
    toml = tmp_path / "qa.toml"
    toml.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    monkeypatch.setenv("QA_CONFIG", str(toml))
    assert main(["config"]) == 2 and "not valid TOML: nested too deeply" in capsys.readouterr().err
    monkeypatch.delenv("QA_CONFIG")
    (tmp_path / "idx" / "bad").mkdir(parents=True)
    (tmp_path / "idx" / "bad" / "manifest.json").write_text(deep.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "idx"))
    assert main(["index", "--list"]) == 0 and "unreadable" in capsys.readouterr().out
    assert main(["index", "--delete", "bad"]) == 0 and not (tmp_path / "idx" / "bad").exists()


def test_a_user_without_a_home_folder_gets_a_cache_of_their_own(monkeypatch, tmp_path: Path, caplog) -> None:
    """A container run with `--user 4242` (no HOME, no password entry): every command, `qa --help`
    too, was a traceback from Path.home()."""
    import os

    from qa.core import paths

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(paths, "_HOMELESS", False)  # put back after the test, as the rest is
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    with caplog.at_level("WARNING", logger="qa"):
        root = paths.private_cache()
    assert root == tmp_path / f"offline-qa-home-{os.getuid()}" / ".cache" / "offline-qa" and root.is_dir()
    assert (root.parent.parent.stat().st_mode & 0o777) == 0o700
    assert "no home folder" in caplog.text or "" in paths._SAID  # said once a process


def test_a_model_folder_or_graph_this_user_may_not_read_is_said_so(tmp_path: Path, monkeypatch, capsys) -> None:
    """An unreadable model folder was "Permission denied: <folder>/INSTALLING" (a file that is not
    there); an unreadable graph was a warning while the question was answered without it."""
    import os

    from qa.core.errors import ModelNotFoundError
    from qa.core.paths import check_model_dir

    secret = tmp_path / "secret-model"
    secret.mkdir()
    graph = tmp_path / "company.ttl"
    graph.write_text("<http://x/a> <http://x/b> <http://x/c> .\n", encoding="utf-8")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: str(tmp_path) not in str(p) and real(p, mode, **kw))
    with pytest.raises(ModelNotFoundError, match="secret-model: this user may not read the model folder"):
        check_model_dir(secret)
    monkeypatch.setenv("QA_KB_GRAPH", str(graph))  # --graph itself is checked by the option parser
    assert main(["ask", "What is b of a?"]) == 2
    assert "company.ttl (from QA_KB_GRAPH / kb_graph): this user may not read it" in capsys.readouterr().err


def test_text_holding_nul_bytes_is_refused_where_questions_and_contexts_are_read(tmp_path: Path, capsys) -> None:
    """UTF-16 without a byte-order mark (a Windows export) and binary files decode as UTF-8: their
    "W\\x00h\\x00a\\x00t" was asked and answered, exit 0, where `qa index` refused the same file."""
    from qa.core.errors import DataFormatError
    from qa.core.text import decode_utf8, read_text

    utf16 = tmp_path / "questions.txt"
    utf16.write_bytes("What is it?\nWho is it?\n".encode("utf-16-le"))
    with pytest.raises(DataFormatError, match="UTF-16 text without a byte-order mark"):
        read_text(utf16)
    with pytest.raises(InputError, match=r"standard input looks binary \(it holds NUL bytes at byte 6\)"):
        decode_utf8(b"Who is\0 it?", "standard input")
    assert decode_utf8("Qui a écrit?".encode(), "x") == "Qui a écrit?"
    assert main(["ask", "--file", str(utf16)]) == 2
    assert "UTF-16 text without a byte-order mark" in capsys.readouterr().err
    assert main(["read", "-q", "Who?", "-f", str(utf16)]) == 2
    assert "UTF-16 text without a byte-order mark" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "said"), [
    (["index", ""], "the file or folder to index is empty (an unset shell variable?)"),  # indexed the folder here
    (["kbqa", "What is x?", "--graph", ""], "--graph is empty"),  # ". is a folder"
    (["ask", "--file=", "--out", "x.jsonl"], "--file is empty"),
    (["ask", "What is x?", "--index", str(REPO / "data/index/default"), "--route", "kbqa"], "--index is passages"),
])
def test_an_empty_path_or_an_option_of_no_use_is_refused(argv: list[str], said: str, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1, err
