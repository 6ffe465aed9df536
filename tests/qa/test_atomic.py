"""Atomic writes leave the file readable as any other file the user writes: a model, an index or a
calibrator written 0600 could not be read by the account the API server runs as."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from qa.core.atomic import atomic_write, atomic_write_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umask_mode_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what the user's umask gives any file they write
    new = tmp_path / "judge.json"
    atomic_write_text(new, "{}")
    assert _mode(new) == _mode(plain) and new.read_text() == "{}"  # not mkstemp's 0600
    secret = tmp_path / "key.txt"
    secret.write_text("a")
    secret.chmod(0o600)  # chosen by the user: a rewrite keeps it
    atomic_write_text(secret, "b")
    assert _mode(secret) == 0o600 and secret.read_text() == "b"


def test_a_failed_write_leaves_the_target_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    target.write_text("before")

    def fail(path: Path) -> None:
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_text() == "before" and [p.name for p in tmp_path.iterdir()] == ["index.json"]


def test_a_folder_lock_the_file_system_refuses_is_no_error(tmp_path, monkeypatch) -> None:
    """NFS refuses an exclusive flock on a folder opened to read (EBADF): `qa index` failed after
    minutes of encoding, and every document the API added."""
    import errno
    import fcntl

    from qa.core.atomic import dir_lock

    def refused(fd, op):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(fcntl, "flock", refused)
    with dir_lock(tmp_path / "idx"):
        (tmp_path / "idx" / "x").write_text("written without a lock")
    assert (tmp_path / "idx" / "x").exists()


def test_a_link_is_written_through_and_a_device_or_pipe_is_refused(tmp_path: Path, capsys) -> None:
    """`--out` naming a symbolic link wrote a file in place of the link (its target never written);
    naming a FIFO or a device replaced it with a regular file (as root, /dev/null itself)."""
    import os

    from qa.cli import main
    from qa.commands import check_writable
    from qa.core.errors import InputError

    real = tmp_path / "real.jsonl"
    real.write_text("old")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    check_writable(link)
    atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    loop_a, loop_b = tmp_path / "a", tmp_path / "b"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "no" / "such" / "folder" / "f.jsonl")
    for bad in (loop_a, dangling):  # Python's resolve() raised on the loop: a traceback
        with pytest.raises(InputError, match="which is not a file here"):
            check_writable(bad)
    atomic_write_text(dangling, "x")  # a writer past the check replaces such a link, creating no folders
    assert not dangling.is_symlink() and dangling.read_text() == "x" and not (tmp_path / "no").exists()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        check_writable(fifo)
    questions = tmp_path / "q.txt"
    questions.write_text("Who wrote Hamlet?\n")
    assert main(["ask", "--file", str(questions), "--out", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err and stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.parametrize("stop", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_build_cut_short_leaves_no_staging_folder_and_the_old_folder(tmp_path: Path, stop) -> None:
    """A failure or Ctrl-C (SIGTERM takes the same way out) while a new index is written into its
    staging folder: the folder goes, the one in use stays as it was."""
    from qa.core.atomic import staging_dir, swap_dir

    target = tmp_path / "idx"
    target.mkdir()
    (target / "manifest.json").write_text("old")
    with pytest.raises(type(stop)), staging_dir(target) as tmp:
        (tmp / "manifest.json").write_text("half")
        raise stop
    assert [p.name for p in tmp_path.iterdir()] == ["idx"] and (target / "manifest.json").read_text() == "old"
    with staging_dir(target) as tmp:  # and a build that finishes is swapped in whole
        (tmp / "manifest.json").write_text("new")
        swap_dir(tmp, target)
    assert [p.name for p in tmp_path.iterdir()] == ["idx"] and (target / "manifest.json").read_text() == "new"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_that_takes_no_new_files_is_refused_before_the_work(tmp_path: Path, capsys) -> None:
    """Permissions do not tell everything: root may 'write' /proc, where no file can be made, and
    `qa index --out /proc/idx` failed only after encoding every passage."""
    from qa.cli import main
    from qa.commands import check_folder_writable, check_writable
    from qa.core.errors import InputError

    with pytest.raises(InputError, match="takes no new files|not a folder this user may write"):
        check_folder_writable(Path("/proc/idx"))
    with pytest.raises(InputError, match="takes no new files|not a folder this user may write"):
        check_writable(Path("/proc/answers.jsonl"))
    doc = tmp_path / "notes.txt"
    doc.write_text("The vault code is 2222.\n")
    assert main(["index", str(doc), "--out", "/proc/idx"]) == 2
    err = capsys.readouterr().err
    assert "cannot write /proc/idx" in err and "encoding" not in err
    assert not list(tmp_path.glob(".qa-write-check-*"))
    check_writable(tmp_path / "out.jsonl")  # an ordinary folder passes, and keeps no trace of the check
    assert not list(tmp_path.glob(".qa-write-check-*"))


def test_only_a_failed_write_is_taken_for_a_full_disk(tmp_path) -> None:
    """Near a full disk every OSError and RuntimeError was said as "No space left on device" (a
    permission refused, a recursion bug, a CUDA error), hiding the real one."""
    import errno

    from qa.core.atomic import disk_full

    for other in (PermissionError(13, "Permission denied"), RuntimeError("maximum recursion depth exceeded"),
                  RecursionError("maximum recursion depth exceeded"), RuntimeError("CUDA failure 2: out of memory"),
                  OSError(28, "No space left on device"),  # says so itself
                  OSError("12889 requested and 4064 written")):  # NumPy's, where the disk has room: not full
        assert disk_full(other, tmp_path) is None, other
    faiss = RuntimeError("Error in faiss::write_index: write error in /x/.dense.tmp: 1 != 2 (No space left on device)")
    full = disk_full(faiss, tmp_path)
    assert full is not None and full.errno == errno.ENOSPC and full.filename == str(tmp_path)
