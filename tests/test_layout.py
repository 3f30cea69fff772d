"""The import rules that keep the layout navigable, checked on the source (ast, no imports run).

Everything stands on ``contract`` (standard library only, so the Lambda asset can carry it);
only app.py, tests and the developer tools import ``stacks``; stacks never import training and
training never imports stacks; the Lambda imports nothing of the project but the contract.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"contract", "stacks", "training", "client", "operations", "deployed", "local", "cli", "tools"}
HEAVY = {"aws_cdk", "cdk_nag", "constructs", "boto3", "botocore", "numpy", "sklearn", "xgboost",
         "pandas", "pyarrow", "sagemaker", "matplotlib"}
# package -> the project packages it may import (besides itself).
ALLOWED = {
    "contract": set(),
    "stacks": {"contract"},
    "training": {"contract", "deployed"},
    "deployed": {"contract"},
    "client": {"contract", "deployed"},
    "operations": {"contract", "deployed"},
    "local": {"contract"},
    "tools": {"contract", "deployed"},
    "cli": {"contract", "training", "client", "operations", "local", "tools"},
}


def imports(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (anywhere in the file)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def sources(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_stands_below_it(package: str) -> None:
    wrong = {f"{path.relative_to(ROOT)} imports {name}"
             for path in sources(package) for name in imports(path) & PROJECT
             if name != package and name not in ALLOWED[package]}
    assert not wrong, sorted(wrong)


def test_the_contract_is_standard_library_only() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    wrong = {f"{path.relative_to(ROOT)} imports {name}" for path in sources("contract")
             for name in imports(path) - stdlib - {"contract"}}
    assert not wrong, sorted(wrong)


def test_the_lambda_imports_the_standard_library_boto3_and_the_contract_only() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    handler_dir = ROOT / "lambda" / "preprocess"
    own = {p.stem for p in handler_dir.glob("*.py")} | {p.name for p in handler_dir.iterdir() if p.is_dir()}
    files = [p for p in handler_dir.rglob("*.py")
             if "__pycache__" not in p.parts and "contract" not in p.relative_to(handler_dir).parts]
    assert files, "no handler sources found"
    wrong = {f"{path.relative_to(ROOT)} imports {name}" for path in files
             for name in imports(path) - stdlib - own - {"boto3", "botocore", "contract"}}
    assert not wrong, sorted(wrong)


def test_commands_register_without_heavy_imports() -> None:
    """`xgbapi --help` and `xgbapi cost` must stay fast: no heavy import at a module's top level."""
    modules = [ROOT / "cli" / "main.py"] + [ROOT / pkg / "commands.py" for pkg in ALLOWED
                                            if (ROOT / pkg / "commands.py").exists()]
    wrong = set()
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # top level only: imports inside functions run with the command
            names = ({a.name.split(".")[0] for a in node.names} if isinstance(node, ast.Import) else
                     {node.module.split(".")[0]} if isinstance(node, ast.ImportFrom) and node.module
                     else set())
            wrong.update(f"{path.relative_to(ROOT)} imports {n}" for n in names & HEAVY)
    assert not wrong, sorted(wrong)


def test_building_the_command_line_loads_no_heavy_module() -> None:
    import subprocess

    code = ("import sys; from cli.main import build_parser; build_parser(); "
            f"print(sorted({sorted(HEAVY)!r}[i] for i in range({len(HEAVY)}) "
            f"if {sorted(HEAVY)!r}[i] in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]", done.stdout
