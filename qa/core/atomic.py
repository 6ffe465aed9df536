"""Crash-safe writes: a reader never sees a half-written index file or folder.

Files: write to a temporary file in the same directory (same file system, so the rename is
atomic), fsync it, `os.replace` it over the target, then fsync the directory so the rename
itself is durable. Folders cannot be swapped over a non-empty folder in one step, so
`swap_dir` moves the old folder aside, moves the new one in and only then deletes the old;
if the second move fails the old folder is put back.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once at import, before any thread could create files meanwhile


def file_stamp(path: Path) -> tuple[int, int, int, int] | None:
    """What tells a file replaced or rewritten since it was looked at (inode, size and times: an
    editor writing in place keeps the inode), or None where there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def as_umask_allows(folder: Path) -> None:
    """Give the files in `folder` the mode the umask gives a new file: safetensors writes weights
    0600, so a reader trained by one account could not be loaded by a server running as another."""
    for f in folder.iterdir():
        if f.is_file() and not f.is_symlink():
            os.chmod(f, 0o666 & ~_UMASK)


def atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp_path)` and atomically move the finished file onto `target`.

    If `write` raises, the temporary file is removed and `target` is untouched. A symbolic link
    to a file is written through (its file is replaced, the link stays a link); a link to nothing
    (or a loop) is replaced, as before, rather than made to create folders where it points.
    """
    target = Path(target)
    if target.is_symlink() and os.path.isfile(target):
        target = Path(os.path.realpath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp's 0600 would become the finished file's: a model or index another user (the API
        # server's account) could not read. The file keeps the mode it had, or gets the umask's.
        os.fchmod(fd, target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_UMASK)
    finally:
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException as exc:
        full = disk_full(exc, target.parent)
        tmp.unlink(missing_ok=True)
        if full is not None:
            raise full from exc
        raise


# free space under which a failed write is taken for the disk having filled up
FULL_BELOW_BYTES = 1 << 20


def write_refused(exc: BaseException) -> bool:
    """Whether a failed write was refused for want of permission or on a read-only disk (an OS
    error, or SQLite's "attempt to write a readonly database"): the operator's to fix, as a full
    disk is, not a bug."""
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_READONLY
    return isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)


def disk_full(exc: BaseException, where: Path) -> OSError | None:
    """The `OSError` (ENOSPC, naming `where`) a failed write should have been where the disk filled
    up: FAISS reports it as a RuntimeError ("write error ... No space left on device"), NumPy as
    "12889 requested and 4064 written" with no error number, SQLite as "database or disk is full",
    so a user read a traceback or a riddle instead of "no space left". Only a failed write is
    taken for one, and NumPy's, which does not say why, only where the disk is (nearly) full:
    another error near a full disk (a permission, a bug) stays what it is."""
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    elif isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return None  # says so already
    elif isinstance(exc, RuntimeError | OSError) and "No space left on device" in str(exc):
        full = True
    elif isinstance(exc, OSError) and exc.errno is None and " requested and " in str(exc) and " written" in str(exc):
        try:
            full = shutil.disk_usage(where).free < FULL_BELOW_BYTES
        except OSError:
            full = False
    else:
        full = False
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(where)) if full else None


def atomic_write_text(target: Path, text: str) -> None:
    """Atomically replace `target` with `text` (UTF-8)."""
    atomic_write(Path(target), lambda p: p.write_text(text, encoding="utf-8"))


def fsync_tree(path: Path) -> None:
    """fsync every file under `path`, then the folders, before the folder is swapped in."""
    for root, _dirs, files in os.walk(path):
        for name in files:
            with open(Path(root) / name, "rb") as fh:
                os.fsync(fh.fileno())
        fsync_dir(Path(root))


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` (created if absent) across processes, for work on
    files that two processes may do at once (a server and a command); others wait."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
    except OSError:
        try:  # a read-only folder, another account's lock file: flock needs no write access
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # no lock file can be had here: whoever reads goes on without one
            yield
            return
    with _flocked(fd):
        yield


@contextlib.contextmanager
def dir_lock(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on a folder itself, across processes: no lock file is left
    beside what it guards (a user's `--out` folder's parent, say). The folder is made if absent."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # nowhere to lock: whoever writes goes on without one, as before
        yield
        return
    with _flocked(fd):
        yield


@contextlib.contextmanager
def _flocked(fd: int) -> Iterator[None]:
    """Hold an exclusive flock on `fd` for the block, then close it. Where none can be had (no
    advisory locks on this platform; NFS refuses one on a file or folder opened to read), the
    block runs without one, as it would without a lock file."""
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except (ImportError, OSError):
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def aside(target: Path, what: str) -> Path:
    """A hidden name beside `target` for a folder being built, moved aside or deleted, carrying
    this process's id: whoever tidies up after killed processes leaves a live one's folders alone."""
    return target.with_name(_aside_prefix(target, what) + uuid.uuid4().hex[:8])


def _aside_prefix(target: Path, what: str) -> str:
    return f".{target.name}.{what}-{os.getpid()}-"


_ASIDE = re.compile(r"^\.(?P<name>.+)\.(?P<what>old|building|deleted)-(?:(?P<pid>\d+)-)?[0-9a-zA-Z_]+\Z")


def parse_aside(name: str) -> tuple[str, str, int | None] | None:
    """(target name, what, process id or None for names written before ids were) of an `aside` name."""
    m = _ASIDE.match(name)
    return (m["name"], m["what"], int(m["pid"]) if m["pid"] else None) if m else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    return True


@contextlib.contextmanager
def staging_dir(target: Path) -> Iterator[Path]:
    """A fresh temporary folder beside `target`; removed if the block fails.

    On success the caller swaps it in with `swap_dir`; building beside the target keeps the
    final rename on one file system.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_aside_prefix(target, "building"), dir=target.parent))
    tmp.chmod(0o777 & ~_UMASK)  # mkdtemp's 0700 would become the finished folder's: unreadable to others
    try:
        yield tmp
    except BaseException as exc:
        full = disk_full(exc, target.parent)
        if full is None and isinstance(exc, OSError) and exc.errno == errno.ENOSPC \
                and str(exc.filename or "").startswith(str(tmp)):
            full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target.parent))  # not the folder removed
        shutil.rmtree(tmp, ignore_errors=True)
        if full is not None:
            raise full from exc
        raise


def recover_interrupted(folder: Path, only: str | None = None) -> list[str]:
    """Undo what a killed process left in `folder`: a folder moved aside by `swap_dir` whose second
    rename never ran is put back, and staging folders are removed. Run by a process that is about
    to write there (the API at start-up, `qa index`), before it does; the folders of a process
    still running (a `qa index` building meanwhile) are its own and left alone. With `only`, just
    the leftovers of that one folder, and only names carrying a process id: `folder` may then be
    any of the user's (the parent of a `--out`), where `.vim.old-backup` is theirs, not ours.
    Returns what was done."""
    notes: list[str] = []
    if not folder.is_dir():
        return notes
    for p in sorted(folder.iterdir()):
        parsed = parse_aside(p.name)
        if parsed is None or not p.is_dir():
            continue
        name, what, pid = parsed
        if only is not None and (name != only or pid is None):
            continue
        # ours, before this process wrote anything, is a killed predecessor's (a container's PID 1)
        if pid is not None and pid != os.getpid() and process_alive(pid):
            continue
        target = folder / name
        if what == "old" and not target.exists():
            os.replace(p, target)
            notes.append(f"restored {target.name} from an interrupted update")
        else:
            shutil.rmtree(p, ignore_errors=True)
            notes.append(f"removed unfinished {p.name}")
    return notes


def recover_target(target: Path) -> list[str]:
    """`recover_interrupted` for one folder a command is about to replace (a collection, a reader):
    its own leftovers alone, under its parent's lock so no swap runs meanwhile. Nothing is done
    where the parent cannot be written (the command's own check says so). Returns what was done."""
    target = Path(target).expanduser().absolute()
    try:
        with dir_lock(target.parent):
            return recover_interrupted(target.parent, only=target.name)
    except OSError:
        return []


def moved_aside(target: Path) -> list[Path]:
    """Folders `swap_dir` moved `target` aside to and never put back (a run killed between its
    two renames), oldest name first."""
    target = Path(target)
    if not target.name or not target.parent.is_dir():
        return []
    return sorted(p for p in target.parent.iterdir()
                  if (parsed := parse_aside(p.name)) is not None and parsed[:2] == (target.name, "old"))


def swap_dir(new: Path, target: Path) -> None:
    """Replace folder `target` by folder `new`; the old content survives any failure."""
    new, target = Path(new), Path(target)
    fsync_tree(new)
    if not target.exists():
        os.replace(new, target)
        fsync_dir(target.parent)
        return
    old = aside(target, "old")
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)
        raise
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)
