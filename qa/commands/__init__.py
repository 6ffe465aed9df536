"""CLI sub-commands; each module exposes `register(app)`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from qa.core.errors import InputError, QAError

if TYPE_CHECKING:
    from qa.core.settings import Settings


def check_graph_file(graph: Path | None) -> None:
    """A `--graph` that names no readable file is refused before anything loads."""
    if graph is not None:
        _check_graph(graph, f"--graph {graph}", str(graph))


_GIVE_A_GRAPH = "give a Turtle, N-Triples, RDF/XML, JSON-LD or TSV file"


def _check_graph(graph: Path, named: str, missing: str) -> None:
    """`graph` must be a graph file of a known format: a folder, a device or a pipe, a missing file or
    a .trig is refused before anything loads, not found by the graph source once a server is up.
    `named`: the graph as the message names it, where it came from; `missing`: as "not found" does."""
    if graph.is_dir():
        raise InputError(f"{named} is a folder; {_GIVE_A_GRAPH}")
    if not graph.is_file():
        raise InputError(f"graph file not found: {missing}" if not graph.exists() else
                         f"{named} is not a regular file (a device or a pipe); {_GIVE_A_GRAPH}")
    if not os.access(graph, os.R_OK):  # was a warning once the graph source loaded, and the question answered
        raise InputError(f"{named}: this user may not read it (permission denied)")
    from kb.loaders import graph_format

    graph_format(graph)


def check_endpoint_option(endpoint: str | None, graph: Path | None = None) -> None:
    """A bad `--endpoint` is refused under the name the user typed: left to the settings, it was
    "setting kb_endpoint=...", a name they never wrote (QA_KB_ENDPOINT still names the variable).
    With `--graph` beside it, one of the two would be dropped without a word (the endpoint wins)."""
    if not endpoint:
        return
    if graph is not None:
        raise InputError("give --graph or --endpoint, not both: the graph is one or the other")
    from qa.core.settings import check_endpoint

    try:
        check_endpoint(endpoint)
    except ValueError as exc:
        raise InputError(f"--endpoint: {exc}") from None


def check_index(index: Path) -> None:
    """An --index the user named must be an index: answering from the other sources instead, with
    exit 0, hid that their documents were never searched."""
    from retrieval.index_dir import is_complete

    if not index.exists():
        raise InputError(f"index folder not found: {index} (build one with `qa index PATH --out DIR`)")
    if index.is_file():
        from kb.loaders import graph_format
        from qa.core.errors import QAError

        try:
            rdf = graph_format(index) != "tsv"  # a .txt or .tsv may as well be documents
        except QAError:
            rdf = False
        if rdf:  # `qa ask --index team.ttl` was told to index the graph as documents
            raise InputError(f"{index} is a knowledge graph file, not an index folder: give it with --graph")
    if index.is_dir() and not is_complete(index) and any(is_complete(p) for p in index.iterdir() if p.is_dir()):
        raise InputError(f"{index} holds collections, it is not one: give one of them with --index, or set "
                         "QA_INDEX_DIR to it to search them all")
    if not index.is_dir() or not is_complete(index):
        raise InputError(f"{index} is not an index folder (no manifest.json); build one with "
                         f"`qa index {index} --out DIR`, or give the folder `qa index` wrote")


def check_models(settings: Settings, where: str) -> None:
    """Model folders the user named must hold a model: a typo in the span reader's left two of the
    three sources without their reader, and one in the answer judge's left community QA failing,
    each printing "No answer" with exit 0. `where` names what set the span reader."""
    from qa.core.errors import ModelNotFoundError
    from qa.core.paths import check_model_dir

    if settings.explicitly_set("span_model"):
        try:  # a folder that exists but holds no model (its parent, a typo) is the same mistake
            check_model_dir(Path(settings.span_model).expanduser())
        except ModelNotFoundError as exc:
            raise InputError(f"{exc} (from {where}); give a span reader folder, or leave it unset for the "
                             "shipped one") from None
    if settings.cqa_judge_model and settings.explicitly_set("cqa_judge_model"):
        try:
            check_model_dir(Path(settings.cqa_judge_model).expanduser())
        except ModelNotFoundError as exc:
            raise InputError(f"{exc} (from QA_CQA_JUDGE_MODEL / cqa_judge_model); give the answer judge's "
                             "folder, or '' to rank answers without it") from None
    check_span_window(settings)
    check_source_files(settings)


def check_span_window(settings: Settings) -> None:
    """Reader windows the user set that leave no room for a question: every source that reads
    passages failed on every question with a warning, and "no answer" came out with exit 0. Checked
    as the span reader checks it, with the windowing its model folder states where the user set
    only one of the two (the multiple-choice reader, which has no stride, is not concerned)."""
    if not (settings.explicitly_set("max_seq_length") or settings.explicitly_set("doc_stride")):
        return
    from mrc.loading import effective_settings, reader_config
    from mrc.span import question_room
    from qa.core.errors import QAError

    try:
        s = effective_settings(settings, reader_config(Path(settings.span_model).expanduser(), task="span"))
    except QAError:  # the model folder's own problem is said where it is loaded
        s = settings
    if question_room(s.max_seq_length, s.doc_stride) < 8:
        raise InputError(f"doc_stride {s.doc_stride} is too large for max_seq_length {s.max_seq_length} "
                         "(QA_DOC_STRIDE / QA_MAX_SEQ_LENGTH): the span reader's windows would leave no room "
                         "for the question")


def check_source_files(settings: Settings) -> None:
    """Files the user configured for a source must be there: a typo in QA_KB_GRAPH left the graph
    out with a warning while the other sources answered, exit 0, and the same setting gave exit 2
    with `--route kbqa`. Failures only a query finds (an endpoint down) still leave the others."""
    def where(name: str) -> str:
        return f"QA_{name.upper()} / {name}"

    if settings.kb_graph and not settings.kb_endpoint and settings.explicitly_set("kb_graph"):
        graph = Path(settings.kb_graph).expanduser()  # QA_KB_GRAPH=company.trig: refused at the start, as --graph is
        _check_graph(graph, f"{graph} (from {where('kb_graph')})", f"{graph} (from {where('kb_graph')})")
    if settings.explicitly_set("index_dir"):
        check_index_dir(Path(settings.index_dir).expanduser(), where("index_dir"))
    if settings.kb_scorer and settings.explicitly_set("kb_scorer"):
        scorer = Path(settings.kb_scorer).expanduser()
        if not scorer.is_file():
            raise InputError(f"scorer file not found: {scorer} (from {where('kb_scorer')})")
    if settings.explicitly_set("cqa_store"):
        store = Path(settings.cqa_store).expanduser()
        if store.is_dir():
            raise InputError(f"{store} (from {where('cqa_store')}) is a folder; give the thread store's .sqlite "
                             "file (created on first use)")
        # another file entirely (a typo naming a text file, another program's database): the look
        # ahead passed over it in silence and the other sources answered, where `--route cqa` said
        # exit 2. Opened read-only as the source would open it; an empty file is a store to create.
        if store.exists() and not store.is_file():  # a FIFO would block SQLite's read for ever
            raise InputError(f"{store} (from {where('cqa_store')}) is not a thread store (not a regular file)")
        if store.is_file() and store.stat().st_size:
            from cqa.store import ThreadStore
            from qa.core.errors import DataFormatError

            try:
                ThreadStore(store, read_only=True).close()
            except DataFormatError as exc:
                raise InputError(f"{exc} (from {where('cqa_store')})") from None
            except QAError as exc:  # a store that cannot be opened now (a read-only disk, permissions):
                # the question's for the other sources, as a graph endpoint that is down is; a store
                # that is no store is the setting's typo, refused above
                import logging

                logging.getLogger("qa").warning("%s (from %s): questions are answered without it", exc,
                                                where("cqa_store"))


def check_index_dir(root: Path, where: str) -> None:
    """The folder of collections the user named: one collection's own folder (its parent meant) or
    a typo answered from the embedded collection alone, "no answer" to every question about the
    user's documents, as if they held nothing. A folder not made yet is said, not refused: `qa
    index` and the API's document writes create it."""
    import logging

    from retrieval.index_dir import is_complete

    if root.is_dir() and is_complete(root):
        raise InputError(f"{root} (from {where}) is one collection's index; give the folder that holds the "
                         f"collections, {root.parent}")
    if not root.exists():
        logging.getLogger("qa").warning("no folder %s (from %s): no collection of yours is searched until `qa index` "
                                        "writes one there", root, where)


def check_apart(reading: Path, outputs: dict[str, Path | None]) -> None:
    """Refuse an output that is the file being read, or that another output also names: the first
    would replace a data set with predictions, the second keep only whichever is written last."""
    def same(a: Path, b: Path) -> bool:
        return a.expanduser().resolve() == b.expanduser().resolve()

    named = [(flag, path) for flag, path in outputs.items() if path is not None]
    for i, (flag, path) in enumerate(named):
        if str(reading) != "-" and same(path, reading):
            raise InputError(f"{flag} {path} is the file being read: it would be replaced")
        for other_flag, other in named[:i]:
            if same(path, other):
                raise InputError(f"{other_flag} and {flag} name the same file {path}: give each its own")


def check_folder_writable(folder: Path) -> None:
    """An index is built beside its folder and swapped in: found before minutes of encoding, not
    after, and named as the user wrote it (not as the staging folder the build would have used)."""
    _check_parent(folder, folder.expanduser().absolute().parent)
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {folder}: it is not a folder this user may write to")


def check_writable(*paths: Path | None) -> None:
    """Refuse output paths that cannot be written before the work runs, not after it."""
    for path in paths:
        if path is None:
            continue
        if str(path) == "-":  # would be a file named "-", not standard output
            raise InputError("'-' is not a file name here: give the file to write")
        if path.is_dir():
            raise InputError(f"cannot write {path}: it is a folder")
        real = Path(os.path.realpath(path)) if path.is_symlink() else path  # written through, to its file
        if path.is_symlink() and not real.exists():  # a loop, a dangling link, /dev/stdout into a pipe
            raise InputError(f"cannot write {path}: it is a link to {real}, which is not a file here")
        if real.exists() and not real.is_file():  # a file is written beside it and renamed over it
            raise InputError(f"cannot write {path}: it is not a regular file (a device, a pipe or a socket)")
        _check_parent(path, real.parent)


def _check_parent(path: Path, parent: Path) -> None:
    """`parent` exists (made if need be) as a folder this user may write in, or an error naming `path`."""
    blocker = next((p for p in [parent, *parent.parents] if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise InputError(f"cannot write {path}: {blocker} is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {path}: {parent} is not a folder this user may write to")
    try:  # permissions do not tell everything (a read-only mount, /proc, a full disk): try it
        os.rmdir(tempfile.mkdtemp(prefix=".qa-write-check-", dir=parent))
    except OSError as exc:
        raise InputError(f"cannot write {path}: {parent} takes no new files ({exc.strerror or exc})") from None
