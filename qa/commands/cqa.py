"""`qa cqa ...`: the community-QA thread store: import StackExchange dumps, SemEval-2016 Task 3 XML
and FAQ files, add questions and answers, ask it alone, re-embed, retrain its re-scorer."""

from __future__ import annotations

import contextlib
import random
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from cqa import TrainedModels
from qa.commands import check_writable
from qa.core.errors import InputError, QAError
from qa.core.text import printable

if TYPE_CHECKING:
    from rich.progress import Progress

    from cqa.matcher import CommunityQA
    from cqa.store import ThreadStore
    from qa.core.settings import Settings

cqa_app = typer.Typer(help="Answered questions (community QA): import, add, ask, list, show, delete.",
                      no_args_is_help=True)
err = Console(stderr=True)
out = Console()

StoreOpt = Annotated[Path | None, typer.Option("--store", help="Thread store (default: the cqa_store setting).")]


def _settings(store: Path | None, **kw: Any) -> Settings:
    from qa.core.settings import Settings

    return Settings.load(cqa_store=str(store) if store else None, flags={"cqa_store": "--store"}, **kw)


def _source(settings: Settings, *, seed: bool | None = None) -> CommunityQA:
    from cqa.matcher import CommunityQA
    from qa.models import shared_encoder, shared_judge, shared_question_judge, shared_span_reader

    return CommunityQA(settings, encoder=shared_encoder(settings), span_reader=shared_span_reader(settings),
                       judge=shared_judge(settings), question_judge=shared_question_judge(settings), seed=seed)


def _bar(description: str, total: int | None) -> tuple[Progress, str, int | None]:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from qa.core.progress import LoggedProgress

    # a bar on a terminal only: written to a file or a pipe, a bar is a line of its last state in the
    # log (and, above an error, a second line where the error is one); there, a plain line now and then
    return LoggedProgress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=err, transient=False, disable=not err.is_terminal), \
        description, total


def _judge_target(out_dir: Path | None, setting: str, what: str, env: str) -> Path:
    """The folder a judge's training replaces (by renames, the old one deleted): refused when it
    names no folder of its own ('' or '.', which `Path` reads as the working folder), when it
    holds something other than a judge of this kind (the swap would delete its files: the answer
    judge's folder named for the question judge, or a folder of the user's), or when an
    interrupted swap left the previous judge in `<folder>.old` and none in the folder (that copy
    is the only one). A `.old` left beside a judge is the swap's own leftover and is removed."""
    import shutil

    from mrc.judge import JUDGE_CONFIG, JudgeHead
    from qa.core.errors import ModelNotFoundError

    raw = str(out_dir) if out_dir is not None else setting
    target = Path(raw).expanduser().resolve()
    if not raw.strip() or target == Path.cwd():
        raise InputError(f"no {what} folder: pass --out DIR (not the working folder) or set {env}")
    if target.exists() and not target.is_dir():
        raise InputError(f"the {what} folder is a file: {target}")
    old = target.with_name(target.name + ".old")
    if (old / JUDGE_CONFIG).is_file() and not (target / JUDGE_CONFIG).is_file():
        raise InputError(f"an interrupted training left the previous {what} in {old}: move it back to {target} "
                         "(or delete it) first")
    if target.is_dir() and any(not p.name.startswith(".") for p in target.iterdir()):
        try:
            task = JudgeHead.load(target).meta.get("task", "answer judge")  # answer judges before "task" have none
        except ModelNotFoundError:
            task = None
        kind = "answer judge" if what == "judge" else what
        if task != kind:
            raise InputError(f"{target} is not {'an' if kind[0] in 'aeiou' else 'a'} {kind}'s folder, and training "
                             "replaces the folder it writes: name a new or empty folder")
    if (old / JUDGE_CONFIG).is_file():
        shutil.rmtree(old, ignore_errors=True)
    return target


def _embed(source: CommunityQA) -> int:
    todo = source.store.count_unembedded()
    if not todo:
        source.refresh()
        return 0
    bar, desc, total = _bar("embedding threads", todo)
    with bar:
        task = bar.add_task(desc, total=total)
        n = source.refresh(progress=lambda done: bar.update(task, completed=done))
    return n


@cqa_app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="Posts.xml (or its dump folder), a SemEval XML file, or FAQ "
                                               ".jsonl/.json/.csv/.tsv (optionally .gz/.xz/.bz2).")],
    fmt: Annotated[str | None, typer.Option("--format", help="stackexchange | semeval | faq (default: detected).")
                   ] = None,
    source: Annotated[str | None, typer.Option(help="Source name for the threads (default from the file).")] = None,
    site: Annotated[str | None, typer.Option(help="StackExchange site name (default: the dump's folder name).")] = None,
    links: Annotated[Path | None, typer.Option(help="PostLinks.xml (default: found beside Posts.xml).")] = None,
    embed: Annotated[bool, typer.Option(help="Embed the new threads right away.")] = True,
    prune: Annotated[bool, typer.Option(help="FAQ files and StackExchange dumps: the file is the whole source; "
                                             "remove the threads (and a dump's answers) it no longer gives.")] = False,
    store: StoreOpt = None,
) -> None:
    """Import answered questions; a malformed file imports nothing, a second import adds nothing twice."""
    from cqa.importers import Format, file_to_read, import_file

    if fmt is not None and fmt not in {f.value for f in Format}:
        raise InputError(f"--format must be one of {', '.join(f.value for f in Format)}, not {fmt!r}")
    if not path.exists():
        raise InputError(f"file not found: {path}")
    if links is not None and not links.is_file():
        raise InputError(f"{links} is not a file (a folder, a device or a pipe)" if links.exists()
                         else f"file not found: {links}")
    settings = _settings(store)
    from cqa.store import BUSY_TIMEOUT_MS, SEED_META, ThreadStore

    posts = file_to_read(path)  # a dump folder is read through its Posts.xml: its size is the bar's total
    target = ThreadStore(settings.cqa_store)
    if target.unwritable:  # said now, not after "another process is writing it" and half a minute
        target.close()
        raise target.not_writable()
    if not target.writable_now():  # it waited half a minute in silence, then failed
        err.print(Text(f"another process is writing {target.path.name} (an import?): waiting up to "
                       f"{BUSY_TIMEOUT_MS / 1000:g} s for it", style="yellow"), soft_wrap=True)
    # a store this import starts (new, or left empty by a failed one) holds the user's file alone:
    # marked never to be seeded as the import begins, in the transaction that finds it so (a `qa ask`
    # beside it had seeded the store while the file went in); taken back if it fails leaving it empty
    with target.transaction():
        fresh = target.count() == 0 and not target.get_meta(SEED_META)
        if fresh:
            target.set_meta(SEED_META, "skip")
    size = posts.stat().st_size if posts.is_file() else None
    bar, desc, total = _bar(f"importing {path.name}", size)
    with bar:
        task = bar.add_task(desc, total=total)
        try:
            rep = import_file(target, path, fmt, source=source, site=site, links=links, prune=prune,
                              on_bytes=lambda pos: bar.update(task, completed=min(pos, size or pos)))
        except BaseException:
            bar.live.transient = True  # the error is the one line said, with no bar stopped half-way above it
            if fresh and target.count() == 0:  # a file that failed leaves the store to be seeded as any
                with contextlib.suppress(QAError):
                    target.set_meta(SEED_META, "")
            raise
        bar.update(task, completed=size)
    err.print(Text.assemble(("imported ", "green"), rep.summary(), f" in {rep.seconds:.1f}s"))
    target.close()
    if embed:
        from qa.cli import stopped_as

        # the import is stored: a Ctrl-C now stops the embedding only ("stopped before finishing" said
        # nothing of either)
        stopped_as("the import is stored, its embedding not finished: `qa cqa embed` embeds the threads left")
        n = _embed(_source(settings))
        if n:
            err.print(Text(f"embedded {n:,} threads", style="dim"))


def _named_store_exists(settings: Settings, store: Path | None) -> None:
    """A store named on the command line is one the user means: a typo made a new store, seeded
    with the trivia set, and answered from it (or looked in it for a thread)."""
    if store is not None and not Path(settings.cqa_store).exists():
        raise InputError(f"no thread store at {settings.cqa_store} (`qa cqa import FILE --store` or "
                         "`qa cqa add --store` makes one)")


@cqa_app.command("add")
def add(
    question: Annotated[str, typer.Argument(help="The question (its title), or the thread id with --thread.")],
    answer: Annotated[str | None, typer.Option("--answer", "-a", help="Its answer.")] = None,
    body: Annotated[str, typer.Option(help="More text of the question.")] = "",
    thread: Annotated[bool, typer.Option("--thread", help="QUESTION is a thread id: add the answer to it.")] = False,
    accepted: Annotated[bool | None, typer.Option(
        help="Mark the answer accepted: the one the thread shows. Default: yes for a new question's answer, no "
             "for an answer added to a thread with --thread (`qa cqa accept` accepts one later).")] = None,
    store: StoreOpt = None,
) -> None:
    """Add a question (with an answer) or an answer to a stored thread."""
    from qa.core.text import check_question

    settings = _settings(store)
    if thread:
        if not answer:
            raise InputError("give the answer to add with --answer")
        _named_store_exists(settings, store)
        src = _source(settings)
        had = {a.id for a in src.store.thread(question).answers}
        aid = src.add_answer(question, answer, accepted=bool(accepted))
        if accepted and aid in had:  # an answer stored already keeps its acceptance: accepted as asked
            src.accept_answer(question, aid)
        # an answer added to a thread is not the one shown unless accepted: said either way, so the
        # thread's shown answer never changes without a word
        now_shown = "; accepted: the one shown now"
        if aid in had:  # the same answer again: the one stored, not a copy
            err.print(Text.assemble(("kept ", "green"), f"answer {aid} of {question}: stored already"
                                    + (now_shown if accepted else "")))
        else:
            shown = now_shown if accepted else \
                f" (not accepted: `qa cqa accept {shlex.quote(question)} {aid}` makes it the one shown)"
            err.print(Text.assemble(("added ", "green"), f"answer {aid} to {question}{shown}"))
        return
    accepted = True if accepted is None else accepted
    check_question(question, settings.max_question_chars)
    src = _source(settings)
    # what was there is read by this thread's id, not by the store's counts, which other processes
    # change meanwhile (a deletion beside it made a new question "stored already")
    uid = src.store.question_uid(question, body)
    before: set[str] | None = {a.id for a in src.store.thread(uid).answers} if src.store.has(uid) else None
    tid = src.add_question(question, body, answer=answer, accepted=accepted)
    answered = {a.id for a in src.store.thread(tid).answers}
    if before is None:
        err.print(Text.assemble(("added ", "green"), f"thread {tid}"))
    elif answer is None or answered == before:  # the same question (and answer) again
        err.print(Text.assemble(("kept ", "green"), f"thread {tid}: the question is stored already"
                                + (" (its answer is in it)" if answer is not None else "")))
    else:  # said "kept" while a new answer went in, accepted, and was the one shown from then on
        shown = "; accepted: the one shown now" if accepted else " (not accepted: --accepted makes it the one shown)"
        err.print(Text.assemble(("added ", "green"), f"an answer to thread {tid}, whose question is stored "
                                f"already{shown}"))


@cqa_app.command("accept")
def accept(
    thread_id: Annotated[str, typer.Argument(help="The thread's id (as `qa cqa ask --json` or `qa cqa add` show it).")],
    answer_id: Annotated[str, typer.Argument(help="The id of the answer to accept.")],
    store: StoreOpt = None,
) -> None:
    """Make one answer of a thread its accepted answer, the one shown (a later re-import of an
    unchanged file keeps it)."""
    settings = _settings(store)
    _named_store_exists(settings, store)
    src = _source(settings)
    src.accept_answer(thread_id, answer_id)
    err.print(Text.assemble(("accepted ", "green"), f"answer {answer_id} of {thread_id}: the one shown now"))


def _store_of(store: Path | None) -> ThreadStore:
    """The thread store as it is, without the models (listing and deleting need none of them)."""
    from cqa.store import ThreadStore

    settings = _settings(store)
    _there(Path(settings.cqa_store))
    return ThreadStore(settings.cqa_store)


def _there(path: Path) -> None:
    """A store to read must be there: a missing one would be left behind empty and unseeded, and an
    empty file (any file of the user's, named by mistake) was made a SQLite database by a listing."""
    if not path.exists():
        raise InputError(f"no thread store at {path} yet (it is created on first use or import)")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(f"{path} is an empty file, not a thread store (one is created on first use or import)")


@cqa_app.command("show")
def show(
    thread_id: Annotated[str, typer.Argument(help="The thread's id (as `qa cqa list` or `qa cqa ask --json` show "
                                                  "it).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the thread as JSON.")] = False,
    store: StoreOpt = None,
) -> None:
    """A thread whole: its question, and every answer with its id (to accept or delete one)."""
    with _store_of(store) as s:
        t = s.thread(thread_id)
    if as_json:
        from qa.render import print_json

        print_json(t.record())
        return
    # stored text, from an import or the API, is shown, not obeyed: escape sequences in it as U+FFFD
    out.print(Text.assemble((printable(t.uid), "bold"), f"  ({printable(t.source)})"), soft_wrap=True)
    out.print(Text(printable(t.title)), soft_wrap=True)
    if t.body and t.body != t.title:
        out.print(Text(printable(t.body), style="dim"), soft_wrap=True)
    out.print(Text(f"{len(t.answers)} answer{'s' if len(t.answers) != 1 else ''}"
                   + (":" if t.answers else " (nothing to show for it yet)")), soft_wrap=True)
    for a in t.answers:
        said = ", ".join(x for x in ("accepted" if a.accepted else "",
                                     f"{a.votes} votes" if a.votes is not None else "", a.author) if x)
        out.print(Text.assemble(("  " + printable(a.id), "bold green" if a.accepted else "bold"),
                                f"  {printable(said)}" if said else ""), soft_wrap=True)
        out.print(Text("    " + printable(a.text).replace("\n", "\n    ")), soft_wrap=True)


@cqa_app.command("list")
def list_threads(
    source: Annotated[str | None, typer.Option("--source", help="This source's threads only (`qa cqa stats` "
                                                                 "lists the sources).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="How many.")] = 20,
    offset: Annotated[int, typer.Option(min=0, max=10_000_000, help="Skip this many first (the next page).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line, answers included.")] = False,
    store: StoreOpt = None,
) -> None:
    """The threads stored latest, a line each: id, answers, question."""
    from qa.render import print_json

    with _store_of(store) as s:
        if source is not None and source not in s.sources():
            raise InputError(f"no source {source!r} in the store (its sources: {', '.join(s.sources()) or 'none'})")
        threads = s.newest(limit, source=source, offset=offset)
    for t in threads:
        if as_json:
            print_json(t.record(), one_line=True)
        else:
            n = len(t.answers)
            title = " ".join(printable(t.title).split())  # a line each: its own line breaks would split it
            out.print(Text.assemble((printable(t.uid), "bold"), f"  {n} answer{'s' if n != 1 else ''}  ", title),
                      soft_wrap=True)


@cqa_app.command("delete")
def delete(
    thread_id: Annotated[str, typer.Argument(help="The thread's id (as `qa cqa list` or `qa cqa ask --json` show "
                                                  "it).")],
    answer_id: Annotated[str | None, typer.Argument(help="One answer's id (`qa cqa show THREAD_ID` lists them): "
                                                         "that answer only.")] = None,
    store: StoreOpt = None,
) -> None:
    """Delete a thread with its answers, or one answer of it. A thread or answer of an imported
    file comes back when the file is imported again: take it out of the file too."""
    from cqa.store import USER_WAIT_MS

    with _store_of(store) as s, s.no_wait(USER_WAIT_MS):  # as `add` and `accept`: an import running, refused
        if answer_id is None:
            t = s.delete_thread(thread_id)
            n = len(t.answers)
            err.print(Text.assemble(("deleted ", "green"), f"thread {t.uid} ({t.title[:60]!r}) with its {n} "
                                    f"answer{'s' if n != 1 else ''}"), soft_wrap=True)
        else:
            a = s.delete_answer(thread_id, answer_id)
            left = s.thread(thread_id).answers
            shown = "" if left else "; the thread has no answer now"
            err.print(Text.assemble(("deleted ", "green"), f"answer {a.id} of {thread_id}"
                                    + (" (it was the accepted one)" if a.accepted else "") + shown), soft_wrap=True)
        _forget_in_index(s, store)


def _forget_in_index(s: ThreadStore, store: Path | None) -> None:
    """The thread index beside the store forgets what was deleted now (its vectors, its words),
    not at the next question: until then they stayed in `<store>.index/`."""
    from cqa.index import ThreadIndex, index_folder
    from qa.models import shared_encoder

    if index_folder(s.path).exists():
        try:
            ThreadIndex(s, shared_encoder(_settings(store))).load()
        except (QAError, OSError) as exc:  # deleted all the same: the next question's load catches up
            err.print(Text(f"warning: the index beside the store still holds it until it catches up: {exc}",
                           style="yellow"), soft_wrap=True)


@cqa_app.command("ask")
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    top_k: Annotated[int | None, typer.Option("--top-k", "-k", min=1, max=100, help="How many answers to show "
                                              "(default: the top_k setting, as for `qa ask`).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answers as JSON.")] = False,
    store: StoreOpt = None,
) -> None:
    """Answer from the answered questions only (the same as `qa ask --route cqa`)."""
    from qa.core.text import check_question

    settings = _settings(store, route="cqa")
    check_question(question, settings.max_question_chars)
    _named_store_exists(settings, store)
    from qa.core.types import Route
    from qa.engine import Engine

    with err.status("answering from the answered questions (the store and models load first) …"):
        resp = Engine(settings, sources={Route.CQA: _source(settings)}).ask(question, top_k=top_k, route="cqa")
    if as_json:
        from qa.render import print_json

        print_json(resp.model_dump_json())
        return
    from qa.render import print_response

    print_response(out, resp, explain=True)


@cqa_app.command("stats")
def stats(store: StoreOpt = None) -> None:
    """Threads, answers and sources in the store."""
    settings = _settings(store)
    from cqa.store import ThreadStore

    _there(Path(settings.cqa_store))
    s = ThreadStore(settings.cqa_store)
    out.print(Text(f"{s.path}: {s.count():,} threads, {s.count_answers():,} answers, "
                   f"{s.count_unembedded():,} not embedded yet"), soft_wrap=True)
    for name, n in s.sources().items():
        out.print(Text(f"  {printable(name)}: {n:,}"), soft_wrap=True)


@cqa_app.command("embed")
def embed(
    reset: Annotated[bool, typer.Option(help="Forget every vector first (after changing the encoder).")] = False,
    store: StoreOpt = None,
) -> None:
    """Embed the threads that have no vector yet (an interrupted import's embedding resumes here)."""
    settings = _settings(store)
    _there(Path(settings.cqa_store))
    src = _source(settings, seed=False)
    if reset:
        src.store.clear_vectors()
    n = _embed(src)
    err.print(Text.assemble(("embedded ", "green"), f"{n:,} threads"))


@cqa_app.command("train")
def train(
    train_file: Annotated[Path | None, typer.Option(help="SemEval-2016 Task 3 training XML (train-part2).")] = None,
    models: Annotated[TrainedModels, typer.Option(
        "--models", help="Which to refit: all; rescorer (which thread, and the shown probability); answers "
                         "(which answer of a thread: after a new span reader). The others' files are kept.")
    ] = TrainedModels.ALL,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the models (default: the shipped "
                                                 "data/cqa, which the source reads): train elsewhere to compare "
                                                 "before replacing them.")] = None,
) -> None:
    """Retrain the thread re-scorer and the answer-quality model on SemEval training data."""
    from cqa.training import DEFAULT_TRAIN, train_models

    path = train_file or DEFAULT_TRAIN
    if not Path(path).exists():
        raise InputError(f"training file not found: {path}")
    from cqa.matcher import ANSWER_RANKER, ANSWER_WORDING, MODEL_DIR, RESCORER
    from qa.models import shared_encoder, shared_span_reader

    # refused before minutes of training, not after them
    check_writable(*((out_dir or MODEL_DIR) / p.name for p in (RESCORER, ANSWER_RANKER, ANSWER_WORDING)))
    settings = _settings(None)
    reader = None if models == TrainedModels.RESCORER else shared_span_reader(settings)
    report = train_models(Path(path), shared_encoder(settings), span_reader=reader, progress=True, models=models,
                          out_dir=out_dir)
    err.print(Text.assemble(("trained ", "green"), report))


@cqa_app.command("train-judge", short_help="Fine-tune the answer judge (a cross-encoder) on SemEval comments and "
                                            "fit its combination.")
def train_judge_command(
    train_file: Annotated[Path | None, typer.Option(help="SemEval-2016 Task 3 training XML (train-part2).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Judge folder (default: the cqa_judge_model "
                                                 "setting).")] = None,
    epochs: Annotated[float, typer.Option(min=0.1, max=20.0, help="Passes over the training comments.")] = 2.0,
    limit: Annotated[int, typer.Option(min=0, help="First N comments only: a dry run, which keeps the installed "
                                       "judge and combination unless --out or --stack-out names where its own go; "
                                       "0: all.")] = 0,
    stack_out: Annotated[Path | None, typer.Option(help="Where the combination goes (default: the shipped "
                                                   "data/cqa/answer_stack.json).")] = None,
    stack_only: Annotated[bool, typer.Option("--stack-only", help="Refit the combination alone and keep the "
                                             "installed judge (after `qa cqa train` refits the answer model): "
                                             "half the time.")] = False,
    extra: Annotated[list[Path] | None, typer.Option("--extra", help="More labelled comments for the judge "
                                                     "alone: SemEval-2015 Task 3 English XML (CQA-QL-devel.xml, "
                                                     "CQA-QL-test.xml) or a CSV title,question,answer,label "
                                                     "(SemEval-2016 labels); repeat for several files (with "
                                                     "--limit, the first N of these too).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Train once: the judge that scored the held-out fifth "
                                       "is the one installed, and the combination is fitted on its own scores "
                                       "(without the held-out questions and the threads repeating them; half "
                                       "the time).")] = False,
) -> None:
    """Fine-tune the answer judge (a cross-encoder from the span reader's encoder) on SemEval comments and fit how its
    score combines with the answer model's. It trains twice: once without a held-out fifth of the questions, to score
    them and fit the combination on unseen threads; then on every comment (not with --stack-only; with --once, the
    first judge is kept)."""
    import shutil
    import tempfile

    import numpy as np

    from cqa.matcher import ANSWER_STACK
    from cqa.semeval import load_labelled_comments
    from cqa.training import (
        DEFAULT_TRAIN,
        dev_threads,
        extra_judge_pairs,
        fit_judge_stack,
        judge_rows,
        judge_split,
        save_judge_stack,
    )
    from mrc.judge import AnswerJudge
    from mrc.train_judge import JudgeRecipe, train_judge
    from qa.core.onnx_models import copy_folder
    from qa.core.paths import check_model_dir
    from qa.models import shared_encoder

    if stack_only and (extra or once):
        raise InputError("--stack-only keeps the installed judge: it takes neither --extra nor --once")
    for file in extra or []:
        if not file.is_file():
            raise InputError(f"extra training file {file} is not a file (a folder, a device or a pipe)"
                             if file.exists() else f"extra training file not found: {file}")
    path = train_file or DEFAULT_TRAIN
    if not Path(path).exists():
        raise InputError(f"training file not found: {path}")
    # read before the slow part, so a wrong file is refused at once
    extra_threads = [t for file in extra or [] for t in load_labelled_comments(file)]
    settings = _settings(None)
    base = check_model_dir(settings.span_model)
    target = _judge_target(out_dir, settings.cqa_judge_model, "judge", "QA_CQA_JUDGE_MODEL")
    if stack_only:  # the combination is fitted for the judge that stays: it must be there
        check_model_dir(target)
    # the new judge is swapped in by renames beside the old one (`.old`): refused before the hour of
    # training if that folder or the stack's cannot be written, not after it
    # a dry run (--limit) installs nothing it was not told to: a judge of a few comments replaced the one
    # every question is answered with
    keep_judge, keep_stack = bool(limit) and out_dir is None, bool(limit) and stack_out is None
    check_writable(None if keep_stack else stack_out or ANSWER_STACK,
                   *(() if stack_only or keep_judge else (target.with_name(target.name + ".old"),)))
    ans = judge_rows(path, shared_encoder(settings), settings=settings)
    n = min(limit or len(ans.rows), len(ans.rows))
    held, train = judge_split(ans)
    held[n:], train[n:] = False, False
    if not held.any() or not train.any():
        raise InputError("no held-out or no training comments (too few questions, or --limit too small); "
                         "use at least a few hundred comments of ten or more questions")
    recipe = JudgeRecipe(epochs=epochs)
    meta: dict[str, Any] = {"data": Path(path).name, "task": "answer judge"}
    more_pairs: list[tuple[str, str]] = []
    more_labels: list[bool] = []
    if extra:
        held_threads = sorted({ans.groups[i] for i in np.where(held)[0]})
        dev = dev_threads()
        if not dev:
            err.print(Text.assemble(("warning: ", "yellow"), "the SemEval dev file is absent: extra threads "
                                    "repeating dev threads cannot be left out"))
        more = extra_judge_pairs(extra_threads, [ans.texts[t] for t in held_threads] + dev)
        more_pairs, more_labels = more.pairs[:limit or None], more.labels[:limit or None]
        meta["extra"] = {"files": [p.name for p in extra], "comments": len(more_pairs), "threads": more.threads,
                         "threads_left_out": more.dropped, "dev_checked": bool(dev)}
        err.print(f"extra: {len(more_pairs):,} comments of {more.threads:,} threads from {len(extra)} file(s); "
                  f"{more.dropped} threads left out for repeating a held-out" + (" or dev" if dev else "") + " thread")
    if once:
        meta["once"] = True

    def run(description: str, rows: np.ndarray, folder: Path) -> None:
        bar, desc, _ = _bar(description, None)
        with bar:
            task = bar.add_task(desc, total=None)

            def step(done: int, steps: int, loss: float) -> None:
                bar.update(task, completed=done, total=steps, description=f"{desc} (loss {loss:.3f})")

            train_judge(base, [ans.pairs[i] for i in np.where(rows)[0]] + more_pairs,
                        [ans.labels[i] for i in np.where(rows)[0]] + more_labels,
                        folder, recipe=recipe, meta=meta, progress=step)

    beside = target.parent if target.parent.exists() and not keep_judge else None  # a dry run installs nothing
    with tempfile.TemporaryDirectory(prefix="judge-", dir=beside) as tmp:
        fold = Path(tmp) / "held-out"
        run("judge without the held-out questions", train, fold)
        held_pairs = [ans.pairs[i] for i in np.where(held)[0]]
        bar, desc, total = _bar("judging the held-out comments", len(held_pairs))
        with bar:
            task = bar.add_task(desc, total=total)
            scores = AnswerJudge(settings, fold).score(held_pairs, progress=lambda k: bar.advance(task, k))
        # a CPU builds an ONNX copy named after the folder it read: the installed judge builds its own
        shutil.rmtree(copy_folder(fold, "judge"), ignore_errors=True)
        stack = fit_judge_stack(ans, held, train, scores, {**meta, "judge": target.name})
        held_out = (f"held-out MAP: answer model {stack.meta['map_answer_model']:.2f}, judge "
                    f"{stack.meta['map_judge']:.2f}, both {stack.meta['map_stack']:.2f}")
        if stack_only or keep_judge:
            stack_path = None if keep_stack else save_judge_stack(stack, stack_out)
            done = "refitted the combination for the judge in " if stack_only else "a dry run beside the judge in "
            err.print(Text.assemble((done, "green"), f"{target}; {held_out} -> "
                                    f"{stack_path or 'nothing written (--limit; give --out to keep a judge)'}"))
            return
        if once:
            staged, trained = fold, int(train.sum())
        else:
            staged, trained = Path(tmp) / "final", n
            run("judge on every comment", np.arange(len(ans.rows)) < n, staged)
        _judge_card(staged, target, base, Path(path), recipe, stack.meta, trained, stack_out or ANSWER_STACK,
                    extra=meta.get("extra"), once=once)
        _swap_in(staged, target)
    kept = "its combination kept (--limit)" if keep_stack else str(save_judge_stack(stack, stack_out))
    err.print(Text.assemble(("trained ", "green"), f"judge on {trained + len(more_pairs):,} comments -> {target}; "
                            f"{held_out} -> {kept}"))


def _swap_in(staged: Path, target: Path) -> None:
    """A trained folder replaces the installed one by renames: a crash leaves the old judge or the
    new one, never half of one (and `_judge_target` finds a judge left in `<folder>.old`)."""
    import os
    import shutil

    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staged, target)
    shutil.rmtree(old, ignore_errors=True)


def _keep_previous_card(staged: Path, target: Path) -> None:
    """The hand-written card of the folder being replaced, kept as README.previous.md beside the
    generated one: the replaced folder's README.previous.md when it has one (its README.md was then
    itself generated), else its README.md. A card that cannot be read is not worth the training
    run: it is skipped with a warning."""
    from qa.core.atomic import atomic_write_text

    for old in (target / "README.previous.md", target / "README.md"):
        if old.is_file():
            try:
                atomic_write_text(staged / "README.previous.md", old.read_text(encoding="utf-8", errors="replace"))
            except OSError as exc:
                err.print(Text.assemble(("warning: ", "yellow"), f"the judge's earlier card was not kept ({exc})"))
            break


def _judge_card(staged: Path, target: Path, base: Path, data: Path, recipe: Any, held: dict[str, Any], n: int,
                stack: Path, *, extra: dict[str, Any] | None = None, once: bool = False) -> None:
    """A model card for the new judge from what this run knows (its data, start, recipe and held-out
    fold), so the folder never ships without one or with the replaced judge's. The card written by
    hand is kept beside it as README.previous.md: the replaced folder's README.previous.md when it
    has one (the replaced card was then itself generated), else its README.md. A card that cannot be
    read is not worth the hour of training: it is skipped with a warning."""
    from datetime import date

    from qa.core.atomic import atomic_write_text

    _keep_previous_card(staged, target)
    rec = ", ".join(f"{k} {v}" for k, v in vars(recipe).items())
    data_line = f"`{data.name}`: {n:,} comments" + (" (all but the held-out fifth and the threads repeating it: "
                                                   "trained once)" if once else "")
    if extra:
        data_line += (f"; and {extra['comments']:,} labelled comments of {extra['threads']:,} threads "
                      f"({', '.join(f'`{f}`' for f in extra['files'])}; {extra['threads_left_out']} threads left "
                      "out for repeating a held-out" + (" or dev" if extra.get("dev_checked") else "") + " thread)")
    atomic_write_text(staged / "README.md", f"""# {target.name}: answer judge for community QA (cross-encoder)

Trained by `qa cqa train-judge` on {date.today().isoformat()}. It reads a forum question and one answer
together and gives a logit, higher when the answer answers the question; community QA combines it
with the answer model's (`{stack.name}`) to order a thread's answers.

| | |
|---|---|
| data | {data_line} |
| start | `{base.name}` (its encoder; its QA head is dropped) |
| recipe | {rec} |

Held-out fold (a fifth of the new questions, trained without them), MAP: answer model
{held.get("map_answer_model", float("nan")):.2f}, judge alone {held.get("map_judge", float("nan")):.2f},
the two combined {held.get("map_stack", float("nan")):.2f}. Dev scores: `python benchmarks/semeval_cqa.py`.
""")


@cqa_app.command("train-question-judge", short_help="Fine-tune the question judge (does an FAQ entry ask what is "
                                                     "asked?) on SQuAD training questions and fit its combination.")
def train_question_judge_command(
    squad_file: Annotated[Path | None, typer.Option("--squad", help="SQuAD-format training file (default: SQuAD "
                                                    "v1.0 train in the shared data).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Judge folder (default: the "
                                                 "cqa_question_judge_model setting).")] = None,
    epochs: Annotated[float, typer.Option(min=0.1, max=20.0, help="Passes over the training pairs.")] = 2.0,
    asked: Annotated[int, typer.Option(min=10, help="Held-out questions asked of the held-out FAQ to fit the "
                                       "combination (with --groups, a quarter as many more of the groups' "
                                       "FAQ).")] = 4000,
    limit: Annotated[int, typer.Option(min=0, help="First N training pairs only, and at most N questions asked "
                                       "of the held-out FAQ (a quarter of N of the groups'): a dry run, which "
                                       "keeps the installed judge unless --out names where its own goes; 0: "
                                       "all.")] = 0,
    stack_only: Annotated[bool, typer.Option("--stack-only", help="Refit the combination alone and keep the "
                                             "installed judge (after `qa cqa train` refits the re-scorer): "
                                             "minutes instead of a quarter of an hour. The card keeps the "
                                             "training run's held-out figures; give the --groups the "
                                             "judge was trained with again.")] = False,
    groups: Annotated[list[Path] | None, typer.Option("--groups", help="Questions grouped by what they ask, a CSV "
                                                      "text,category[,domain] (an intent data set, a forum's "
                                                      "duplicates): paraphrase pairs for the judge, and a fifth of "
                                                      "the groups asked as a second held-out FAQ; repeat for "
                                                      "several files.")] = None,
    base: Annotated[str | None, typer.Option("--base", help="Encoder folder to start from, Hugging Face layout "
                                             "(default: the span reader's; the word 'encoder': the packaged "
                                             "sentence encoder; ./encoder: a folder of that name).")] = None,
) -> None:
    """Fine-tune the question judge (a cross-encoder from the span reader's encoder) on pairs of SQuAD training
    questions: the same fact asked twice against the same paragraph's other questions (and, with --groups, one
    request worded two ways against another group's). Then a fifth of the articles (and of the groups), never
    trained on, is stored as an FAQ and its other questions asked; the judge's and the re-scorer's logits are
    combined on those matches (written into the judge's folder), so the probability shown for a one-line match is
    fitted on matches like users' own."""
    import json
    import shutil
    import tempfile

    from cqa.matcher import QUESTION_STACK, CommunityQA, rescorer_digest
    from cqa.question_training import (
        FactQuestion,
        QuestionPairs,
        faq_simulation,
        fit_question_stack,
        group_faq_simulation,
        group_pairs,
        load_grouped,
        question_pairs,
        stack_rows,
    )
    from cqa.training import OFF_TOPIC_FILE
    from mrc.datasets import load_squad
    from mrc.judge import AnswerJudge, JudgeHead
    from mrc.train_judge import JudgeRecipe, train_judge
    from qa.core.errors import ModelNotFoundError
    from qa.core.onnx_models import copy_folder
    from qa.core.paths import check_model_dir, encoder_path
    from qa.models import shared_encoder

    path = squad_file or OFF_TOPIC_FILE
    if not Path(path).is_file():
        raise InputError(f"SQuAD training file not found: {path}")
    for file in groups or []:
        if not file.is_file():
            raise InputError(f"grouped questions file not found: {file}")
    settings = _settings(None)
    if stack_only and base is not None:
        raise InputError("--base chooses where a new judge starts; --stack-only trains none")
    packaged = base == "encoder"  # as typed: "./encoder" is a folder
    start_dir = check_model_dir(encoder_path() if packaged else base or settings.span_model)
    start = "all-MiniLM-L6-v2 (the packaged sentence encoder)" if packaged else start_dir.name
    target = _judge_target(out_dir, settings.cqa_question_judge_model, "question judge",
                           "QA_CQA_QUESTION_JUDGE_MODEL")
    dry = bool(limit) and out_dir is None  # installs nothing: a judge of a few pairs replaced the installed one
    if stack_only:  # the combination is fitted for the judge that stays: it must be there
        check_model_dir(target)
    if not dry:
        check_writable(target / QUESTION_STACK if stack_only else target.with_name(target.name + ".old"))
    # read before the slow part, so a wrong file is refused at once
    questions = [FactQuestion(e.title, e.context, e.question, tuple((s, s + len(t)) for t, s in
                                                                    zip(e.answers, e.answer_starts, strict=True)
                                                                    if s >= 0),  # a wording the text lacks: no span
                              e.answers[0] if e.answers else "")
                 for e in load_squad(path).examples]
    grouped = [q for file in groups or [] for q in load_grouped(file)]
    data = QuestionPairs() if stack_only else question_pairs(questions)  # --stack-only trains nothing
    more = QuestionPairs() if stack_only else group_pairs(grouped)
    rows_ = [(p, y, False) for p, y in zip(data.pairs, data.labels, strict=True)]
    rows_ += [(p, y, True) for p, y in zip(more.pairs, more.labels, strict=True)]
    if more.pairs:  # both kinds in a dry run's first N as in the whole (SQuAD's alone come shuffled)
        random.Random(0).shuffle(rows_)
    rows_ = rows_[:limit or None]
    pairs, labels = [r[0] for r in rows_], [r[1] for r in rows_]
    n_asked = min(asked, limit) if limit else asked
    entries, faq_asked = faq_simulation(questions, limit=n_asked)
    more_entries: list[tuple[str, str]] = []
    if grouped:  # a second FAQ in the same store: a help desk's requests beside an encyclopaedia's facts
        more_entries, more_asked = group_faq_simulation(grouped, limit=max(1, n_asked // 4), first_id=len(entries))
        entries, faq_asked = entries + more_entries, faq_asked + more_asked
        names = ", ".join(str(f) for f in groups or [])
        if not more_entries and (stack_only or not more.pairs):
            raise InputError(f"the grouped questions of {names} give nothing to learn from: a group needs two "
                             "questions at least, and there must be enough groups (a few dozen) for a fifth of them "
                             "to be held out as an FAQ")
        if not more_entries or not stack_only and not more.pairs:
            err.print(Text.assemble(("warning: ", "yellow"), f"the grouped questions of {names} give "
                                    + ("no held-out FAQ (too few groups)" if not more_entries else
                                       "no training pairs (every group is held out or has one question)")))
    elif stack_only:  # the combination is refitted as it was fitted: with the groups' FAQ, if it had one
        try:
            trained = JudgeHead.load(target).meta.get("groups") or {}
        except ModelNotFoundError:
            trained = {}
        if trained.get("files") and trained.get("faq_entries", 1):  # its combination had the groups' FAQ too
            given = " ".join(f"--groups {shlex.quote(f)}" for f in trained["files"])
            err.print(Text.assemble(("warning: ", "yellow"), f"the judge in {target} was trained with {given}; "
                                    "without them the combination is fitted on the SQuAD FAQ alone (give them "
                                    "again to refit it as it was fitted)"))
    if not faq_asked or not stack_only and (not any(labels) or all(labels)):
        raise InputError("too few questions for the question judge: it needs articles (titled) with several questions "
                         "about each paragraph, some asking the same fact (SQuAD's shape); with --limit, raise N")
    if not stack_only:
        err.print(f"{len(pairs):,} question pairs ({sum(labels):,} asking the same fact, {data.swapped:,} with another "
                  f"name or number swapped in; {data.dropped:,} same-fact pairs left out where one asks about "
                  f"another thing or number" + (f"; {sum(r[2] for r in rows_):,} of grouped questions" if grouped
                                                  else "") + ")")
    err.print(f"held-out FAQ: {len(entries):,} entries, {len(faq_asked):,} questions asked")
    recipe = JudgeRecipe(epochs=epochs, batch_size=32, max_length=64)
    meta: dict[str, Any] = {"data": Path(path).name, "task": "question judge", "base": start,
                            "dropped_same_fact": data.dropped,
                            "swapped": data.swapped}
    if grouped:
        meta["groups"] = {"files": [f.name for f in groups or []], "questions": len(grouped),
                          "faq_entries": len(more_entries),
                          "pairs": sum(r[2] for r in rows_), "positives": sum(r[1] and r[2] for r in rows_)}
    # beside the target, so the new folder is renamed into place on one file system; --stack-only renames nothing
    # beside the judge, for the swap that installs it; a dry run installs nothing (nor needs that folder writable)
    here = target.parent if target.parent.exists() and not stack_only and not dry else None
    with tempfile.TemporaryDirectory(prefix="qjudge-", dir=here) as tmp:
        # the FAQ first: an entry the importer refuses is found before the training, not after it
        faq = Path(tmp) / "faq.jsonl"
        with faq.open("w", encoding="utf-8") as fh:
            for n, (question, answer) in enumerate(entries):
                fh.write(json.dumps({"id": str(n), "question": question, "answer": answer}) + "\n")
        fit_settings = _settings(Path(tmp) / "faq.sqlite", cqa_seed=False)
        source = CommunityQA(fit_settings, encoder=shared_encoder(settings), seed=False)  # no question judge: priors
        source.import_file(faq)
        staged = target if stack_only else Path(tmp) / "judge"
        if not stack_only:
            bar, desc, _ = _bar("question judge", None)
            with bar:
                task = bar.add_task(desc, total=None)

                def step(done: int, steps: int, loss: float) -> None:
                    bar.update(task, completed=done, total=steps, description=f"{desc} (loss {loss:.3f})")

                train_judge(start_dir, pairs, labels, staged, recipe=recipe, meta=meta, progress=step)
        judge = AnswerJudge(settings, staged)
        bar, desc, total = _bar("asking the held-out FAQ", len(faq_asked))
        with bar:
            task = bar.add_task(desc, total=total)
            rows = stack_rows(source.match, judge.score, faq_asked, progress=lambda k: bar.advance(task, k))
        source.store.close()
        if not stack_only:
            shutil.rmtree(copy_folder(staged, "judge"), ignore_errors=True)  # the installed folder builds its own
        try:
            stack = fit_question_stack(rows, {"judge": target.name, "data": Path(path).name,
                                              "faq_entries": len(entries), "rescorer_sha1": rescorer_digest(),
                                              **({"groups": meta["groups"]["files"]} if grouped else {})})
        except ValueError as exc:
            raise InputError(f"{exc} (too few held-out questions: raise --asked or drop --limit)") from exc
        # the combination goes with its judge: written into the staged folder, swapped in with it
        if not dry:
            stack.save(staged / QUESTION_STACK)
        if not stack_only and not dry:
            _question_judge_card(staged, target, start_dir, start, Path(path), recipe, len(pairs), sum(labels),
                                 stack.meta, meta.get("groups"))
            _swap_in(staged, target)
    held = stack.meta["held_out_top_match"]
    b, a = held["before"], held["after"]
    err.print(Text.assemble(("a dry run: nothing written (--limit; give --out to keep it)\n" if dry else "", "yellow"),
                            ("refitted " if stack_only else "trained ", "green"),
                            (f"the combination for the judge in {target}" if stack_only else
                             f"question judge on {len(pairs):,} pairs" + ("" if dry else f" -> {target}")) +
                            f"; held-out FAQ, before -> after: P@1 {b['p@1_answerable']:.2f} -> "
                            f"{a['p@1_answerable']:.2f}, questions it does not hold answered "
                            f"{b['answered_pct_unanswerable']:.1f} % -> {a['answered_pct_unanswerable']:.1f} %, wrong "
                            f"answers {b['wrong_pct_of_answered']:.1f} % -> {a['wrong_pct_of_answered']:.1f} %"))


def _question_judge_card(staged: Path, target: Path, base: Path, start: str, data: Path, recipe: Any, n: int,
                         positives: int, held: dict[str, Any], grouped: dict[str, Any] | None = None) -> None:
    """The model card the folder never ships without; the hand-written card of the replaced folder is
    kept as README.previous.md, as for the answer judge."""
    from datetime import date

    from qa.core.atomic import atomic_write_text

    _keep_previous_card(staged, target)
    top = held.get("held_out_top_match", {})
    before, after = top.get("before", {}), top.get("after", {})
    rec = ", ".join(f"{k} {v}" for k, v in vars(recipe).items())
    grouped_files = "".join(f", `{f}`" for f in (grouped or {}).get("files", []))
    grouped_share = " and groups" if grouped else ""
    atomic_write_text(staged / "README.md", f"""# {target.name}: question judge for community QA (cross-encoder)

Trained by `qa cqa train-question-judge` on {date.today().isoformat()}. It reads two one-line questions
together and gives a logit, higher when they ask for the same fact; community QA combines it with
the re-scorer's (`question_stack.json`, in this folder) for a one-line question matched to an FAQ entry.

| | |
|---|---|
| data | `{data.name}`{grouped_files}: {n:,} question pairs of four fifths of its articles{grouped_share} \
({positives:,} asking the same) |
| start | `{start}` (its encoder{"; its QA head is dropped" if (base / "qa_reader.json").exists() else ""}) |
| recipe | {rec} |

The held-out fifth of the articles{grouped_share} as an FAQ ({held.get("questions", 0):,} questions asked; the
combination is fitted there, so these are in-sample), top match with the re-scorer alone -> combined with the judge:

| | re-scorer | with the judge |
|---|---|---|
""" + "".join(f"| {k} | {before.get(k)} | {after.get(k)} |\n" for k in after) + """
Dev scores: `python benchmarks/cqa_faq.py`.
""")


def register(app: typer.Typer) -> None:
    app.add_typer(cqa_app, name="cqa")
