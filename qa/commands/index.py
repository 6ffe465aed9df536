"""`qa index`: build a searchable index folder from files, or rebuild the embedded default."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from qa.core.errors import DataFormatError, InputError, NotFoundError, QAError
from qa.core.settings import Settings

console = Console(stderr=True)


def index(
    path: Annotated[
        Path | None,
        typer.Argument(help="A .txt/.md/.html/.jsonl file or a folder of them.", show_default=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Index folder to write (default: <index_dir>/<name>, searched by `qa ask`)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="Collection name (default: the file or folder name)."),
    ] = None,
    default: Annotated[
        bool,
        typer.Option("--default", help="Rebuild the embedded default index (Wikipedia summaries)."),
    ] = False,
    dense_kind: Annotated[
        str, typer.Option("--dense", help="FAISS index kind: flat (exact), fp16 (exact, half size), hnsw.")
    ] = "",
    config: Annotated[Path | None, typer.Option("--config", help="Settings TOML file.")] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Rebuild a collection that was built from another folder, or holds documents added "
                          "through the API (they would be gone).")] = False,
    list_them: Annotated[bool, typer.Option("--list", help="List the collections `qa ask` searches.")] = False,
    delete: Annotated[str | None, typer.Option("--delete", help="Delete a collection of your own (by name).",
                                               show_default=False)] = None,
) -> None:
    """Index documents for `qa ask`; a failed run leaves the previous index intact."""
    from qa.commands import check_folder_writable
    from retrieval.dense import KINDS

    settings = Settings.load(config)
    if list_them or delete is not None:
        if path is not None or default or out is not None or name is not None or (list_them and delete is not None):
            raise InputError("--list and --delete NAME go alone (no PATH, --default, --out or --name)")
        if list_them:
            _list(settings)
        else:
            _delete(settings, delete or "")
        return
    if dense_kind and dense_kind not in KINDS:
        raise InputError(f"--dense must be one of {', '.join(KINDS)}, not {dense_kind!r}")
    started = time.perf_counter()
    if default:
        if path is not None:
            raise InputError("give either PATH or --default, not both")
        from retrieval.default import SHIPPED_INDEX, build_default_index

        target = out or SHIPPED_INDEX
        _recover(target)
        check_folder_writable(target)
        build_default_index(target, settings, progress=True, dense_kind=dense_kind or "fp16")
        from retrieval.index_dir import Manifest

        count = Manifest.load(target).count
    else:
        if path is None:
            raise InputError("give a file or folder to index (or --default)")
        from retrieval.collections import DEFAULT_NAME, check_name, collection_name_for
        from retrieval.documents import NoDocumentsError
        from retrieval.ingest import index_path

        if not path.exists():
            raise InputError(f"nothing to index: {path} does not exist")
        if out is not None and name is not None:
            raise InputError("give either --out DIR or --name NAME, not both")
        if name is not None and name.lower() == DEFAULT_NAME:  # `--collection default` asks the embedded one
            raise InputError(f"the collection name {DEFAULT_NAME!r} is the embedded collection's: choose another")
        if out is not None and out.expanduser().resolve().parent == Path(settings.index_dir).expanduser().resolve():
            # a folder of the collections' own folder is a collection: one `qa ask` could never search
            # (an invalid name, or the embedded one's) is refused, as with --name
            if out.name == DEFAULT_NAME:
                raise InputError(f"the collection name {DEFAULT_NAME!r} is the embedded collection's: choose another")
            check_name(out.name)
        # `--name ""` (an unset shell variable, say) is a mistake, not a request for the default name
        target = out or Path(settings.index_dir) / check_name(collection_name_for(path) if name is None else name)
        if out is None:
            from retrieval.collections import check_case_apart

            check_case_apart(target.name, settings)
        _recover(target)
        from retrieval.index_dir import manifest_stamp

        seen = manifest_stamp(target)  # before the checks: an API edit after them is seen at the swap
        if not replace:
            _check_replacing(target, path)
        check_folder_writable(target)
        try:
            target, count = index_path(path, target, settings, progress=True, dense_kind=dense_kind or "flat",
                                       seen=seen)
        except NoDocumentsError as exc:
            from retrieval.index_dir import is_complete

            if is_complete(target):  # a folder emptied: the collection built from it before answers on
                how = f"qa index --delete {target.name}" if out is None else f"rm -r {target}"
                raise InputError(f"{exc}; the collection {target} built from it earlier is kept and still answers "
                                 f"(`{how}` removes it)") from None
            raise
    secs = time.perf_counter() - started
    from rich.text import Text

    from qa.core.text import counted

    console.print(Text.assemble(("indexed ", "green"), f"{counted(count, 'passage')} into {target} in {secs:.1f}s"))
    if not default and out is None:
        console.print(Text(f"`qa ask` now answers from the collection {target.name} too "
                           f"(`qa ask --collection {target.name}` for it alone)", style="dim"))


def register(app: typer.Typer) -> None:
    app.command("index")(index)


def _list(settings: Settings) -> None:
    """Each collection: its passages, what it was built from, when; printed as output (stdout)."""
    from rich.table import Table

    from retrieval.collections import DEFAULT_NAME, damaged_collections, user_collections
    from retrieval.default import SHIPPED_INDEX
    from retrieval.index_dir import MANIFEST, Manifest, is_complete

    rows = []
    if settings.include_default:  # where `qa ask` finds it, without building it here
        shipped = next((f for f in (SHIPPED_INDEX, Path(settings.index_dir) / DEFAULT_NAME) if is_complete(f)), None)
        rows.append((DEFAULT_NAME, shipped or SHIPPED_INDEX))
    # a damaged one too (part of an index, a copy cut short): it was missing from the list, and
    # --delete said there was no such collection
    rows += sorted([(c.name, c.folder) for c in user_collections(settings) + damaged_collections(settings)])
    table = Table(title=f"collections ({settings.index_dir})", title_justify="left")
    for column in ("name", "passages", "built from", "built (UTC)", "changed (UTC)"):  # a long path wraps, not cut
        table.add_column(column, justify="right" if column == "passages" else "left", overflow="fold")
    for label, folder in rows:
        try:
            if label != DEFAULT_NAME and not is_complete(folder):
                raise DataFormatError(f"{folder} holds part of an index only; `qa index --delete {label}` "
                                      "removes it")
            m = Manifest.load(folder)
        except QAError as exc:  # one damaged collection is listed as such, the others still are
            table.add_row(label, "", f"unreadable: {exc}", "", "")
            continue
        source = "the embedded Wikipedia summaries" if label == DEFAULT_NAME else str(m.extra.get("root") or "")
        if m.extra.get("added_documents"):
            source = f"{source} + the API" if source else "the API"
        built = m.created.replace("T", " ").removesuffix("+00:00")
        # documents added or deleted through the API since: "built" alone had kept the first time
        changed = _utc(Path(folder) / MANIFEST) if label != DEFAULT_NAME else ""  # shipped: its checkout's time
        table.add_row(label, f"{m.count:,}", source, built, changed if changed[:16] != built[:16] else "")
    Console().print(table)
    if not rows:
        console.print("no collections: `qa index PATH` builds one", style="dim", markup=False)


def _utc(path: Path) -> str:
    """A file's last change, as the manifest's `created` is written (UTC, to the second)."""
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except OSError:
        return ""


def _delete(settings: Settings, name: str) -> None:
    """A collection of one's own goes whole (moved aside, then removed: never half of one)."""
    import shutil

    from qa.core.atomic import aside
    from retrieval.collections import DEFAULT_NAME, check_name
    from retrieval.index_dir import Manifest, folder_lock, is_complete, is_damaged

    if name == DEFAULT_NAME:
        raise InputError("the embedded collection is not deleted; QA_INCLUDE_DEFAULT=false leaves it out")
    folder = Path(settings.index_dir).expanduser() / check_name(name)
    with folder_lock(folder):  # not while the API adds to it, nor under a `qa index` swapping it in
        if not is_complete(folder) and not is_damaged(folder):
            raise NotFoundError(f"no collection named {name!r} in {settings.index_dir} (`qa index --list`)")
        try:
            count: int | None = Manifest.load(folder).count
        except QAError:  # a damaged collection (`--list` shows it unreadable) goes too
            count = None
        gone = aside(folder, "deleted")
        folder.rename(gone)
    shutil.rmtree(gone, ignore_errors=True)
    from qa.core.text import counted

    said = f" ({counted(count, 'passage')})" if count is not None else " (it was damaged)"
    console.print(f"deleted the collection {name}{said}", markup=False, highlight=False)


def _recover(target: Path) -> None:
    """A collection a killed `qa index` had moved aside for its swap is put back (and its staging
    folders removed) before this run looks at it, as the API does at start-up: otherwise this run
    would build beside a collection that seems not to exist."""
    from qa.core.atomic import recover_target

    for note in recover_target(target):
        console.print(note, style="yellow", markup=False, highlight=False)


def _check_replacing(target: Path, path: Path) -> None:
    """A collection is rebuilt from the folder it was built from; another folder of the same name,
    or documents added to it through the API, would be lost without a word."""
    from retrieval.index_dir import Manifest, is_complete

    target = target.expanduser()
    if not is_complete(target):
        return
    extra = Manifest.load(target).extra
    root, here = extra.get("root"), str(path.expanduser().resolve())
    if root and root != here:
        api = (" (and drop the documents added to it through the API)" if extra.get("added_documents") else "")
        raise InputError(f"the collection {target.name!r} was built from {root}, not {here}: give this one "
                         f"another --name, or --replace to rebuild it from here{api}")
    if extra.get("added_documents"):
        raise InputError(f"the collection {target.name!r} holds documents added through the API, which "
                         f"rebuilding it from {here} would drop: --replace to rebuild it anyway")
