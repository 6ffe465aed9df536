"""The layers of ../shared/DESIGN.md hold: import-linter's contracts (pyproject.toml) pass, and the
command line starts without torch for help and for input errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is not installed (pip install -e '.[dev]')"
    run = subprocess.run([exe, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def _modules_after(argv: list[str]) -> tuple[int, set[str]]:
    code = (
        "import sys\n"
        "from qa.cli import main\n"
        f"rc = main({argv!r})\n"
        "print('MODULES', ' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'torch', 'transformers', 'faiss', 'rdflib', 'onnxruntime'})))\n"
        "sys.exit(rc)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    line = next(x for x in run.stdout.splitlines() if x.startswith("MODULES"))
    return run.returncode, set(line.split()[1:])


def test_help_does_not_import_torch() -> None:
    rc, loaded = _modules_after(["--help"])
    assert rc == 0 and not loaded, loaded


def test_input_errors_do_not_import_torch() -> None:
    for argv in (["ask", ""], ["ask", "x" * 5000], ["read", "--context", "c", "--question", " "]):
        rc, loaded = _modules_after(argv)
        assert rc == 2 and not loaded, (argv, loaded)


def test_the_core_does_not_import_the_package_above_it() -> None:
    """import-linter's forbidden list names `qa.*`, which does not match `qa` itself, and a
    contract cannot forbid a package to its own sub-package: `from qa import x` in the core passed."""
    import ast

    for path in (REPO / "qa" / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            assert "qa" not in names, f"{path.relative_to(REPO)}:{node.lineno} imports the qa package"
            # `from .. import x` (or `from ..engine import x`) reaches above the core just the same
            up = isinstance(node, ast.ImportFrom) and node.level > 1
            assert not up, f"{path.relative_to(REPO)}:{node.lineno} imports from above the core"
