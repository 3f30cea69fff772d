"""`make mutate`: mutation testing (mutmut 3) of the modules whose bugs cost most, one at a time.

Usage: ``python tests/mutation/mutate.py [MODULE ...]`` (``make mutate [MODULE=path]``); no
argument runs every module of ``MODULES``. Not part of ``make test``.

Each module runs in its own work folder, ``.mutation/<module>/`` (git-ignored): links to this
checkout, a generated ``setup.cfg`` (mutmut's settings: the one file to mutate, the tests that
exercise it) and mutmut's ``mutants/`` copy of the project. mutmut rewrites every function of
the module into a trampoline with all its mutants, runs the selected tests once to learn which
test reaches which function, then runs, per mutant, only those tests (in a process forked per
mutant, ``--max-children`` at a time).

Runs are incremental: mutmut keeps a killed mutant's verdict while its function is unchanged.
Every mutant not killed is re-tested on each run, so a new test counts at once. ``FRESH=1``
deletes the work folder first (a full run; use it after deleting or weakening a test).
``REPORT=1`` prints the last run's scores and survivors without running anything.

The score per module is killed / (mutants - listed equivalents). A mutant that survives and is
not listed in ``equivalent.txt`` (beside this file, one line each: the mutant's name, ``|``,
why no test can tell it apart) fails the run, and so does a listed one that no longer survives
(the list stays true). Exit 1 on either, or on a score under ``GOAL``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".mutation"
EQUIVALENT = Path(__file__).with_name("equivalent.txt")
MUTMUT = Path(sys.executable).with_name("mutmut")
GOAL = 0.90
# What the mutated copy of the project needs to run the selected tests: the packages (copied
# by mutmut; .py files again on every run) and the rest (copied again on every run).
SOURCE_PATHS = ["contract", "lambda", "local", "training", "client", "operations", "deployed", "tools",
                "cli", "stacks"]
ALSO_COPY = ["config", "cdk.json", "app.py"]
# The handler's modules are imported as ``preprocessing.<module>`` (the Lambda asset's root is
# on sys.path): the work folder links that package at its top level, so mutmut's module names
# are the ones the tests import (the mutated copy comes first on sys.path).
HANDLER = "lambda/preprocess/preprocessing"
# A mutant's run selects some tests only: syrupy would call the other snapshots unused and fail
# the run, a kill the mutant did not earn (--snapshot-warn-unused only warns). The listing tests
# read the modules' source for their refusals: in the mutated copy that source is mutmut's
# trampolines, so they are left out (they test the source, not the behaviour).
PYTEST_ARGS = ["-q", "-p", "no:xdist", "-p", "no:randomly", "--snapshot-warn-unused",
               "--deselect", "tests/config/test_refusals.py::test_every_config_refusal_has_a_test",
               "--deselect", "tests/config/test_refusals.py::test_every_manifest_refusal_has_a_test"]


@dataclass(frozen=True)
class Module:
    path: str  # as the work folder sees it (preprocessing/... for the handler)
    tests: tuple[str, ...]  # pytest selection: the fast tests that exercise the module
    # The CDK's jsii runtime is a node process behind a pipe: a process forked from one that
    # started it cannot use it, and starting one per mutant (mutmut's fork server) costs
    # seconds. mutmut only prepares these modules (mutants, and which test reaches which
    # function); their mutants run in long-lived workers, one jsii runtime each (jsii_workers).
    jsii: bool = False


CONSTRUCT_TESTS = ("tests/infrastructure/test_constructs.py",
                   "tests/infrastructure/test_construct_templates.py")
MODULES = {
    "contract/config.py": Module("contract/config.py", ("tests/config",)),
    "contract/manifest.py": Module("contract/manifest.py", ("tests/config",)),
    "contract/assignment.py": Module("contract/assignment.py", ("tests/handler",)),
    "contract/encoding.py": Module("contract/encoding.py", (
        "tests/encoding", "tests/handler", "tests/config/test_refusals.py", "tests/config/test_manifest.py",
        "tests/training/test_raw_prepare.py")),
    **{f"{HANDLER}/{name}.py": Module(f"preprocessing/{name}.py", ("tests/handler",))
       for name in ("csv_rows", "json_rows", "raw_rows", "request", "endpoint", "service",
                    "settings", "weights")},
    # The constructs run their construct-level tests only: a bare stack per case, a fraction of
    # a second each, where the stack tests synthesize the whole app (about 20 s a mutant).
    **{path: Module(path, CONSTRUCT_TESTS, jsii=True)
       for path in ("stacks/api/prediction_api.py", "stacks/inference/endpoint.py",
                    "stacks/storage/execution_role.py")},
}


def slug(module: str) -> str:
    return module.replace("/", "-").removesuffix(".py")


def setup_cfg(module: Module) -> str:
    def listing(values: list[str] | tuple[str, ...]) -> str:
        return "".join(f"\n    {value}" for value in values)

    sources = [*SOURCE_PATHS, *(["preprocessing"] if module.path.startswith("preprocessing/") else [])]
    return (
        "[mutmut]\n"
        f"source_paths ={listing(sources)}\n"
        f"only_mutate ={listing([module.path])}\n"
        f"also_copy ={listing(ALSO_COPY)}\n"
        f"pytest_add_cli_args_test_selection ={listing(module.tests)}\n"
        f"pytest_add_cli_args ={listing(PYTEST_ARGS)}\n"
        "use_git_change_detection = false\n"
        # mutmut's own runs of a jsii module (tests mapped, clean and forced-fail runs) each start
        # jsii in a process forked from a clean fork server.
        + ("process_isolation = forkserver\nforkserver_warmup = none\n" if module.jsii else "")
    )


def prepare(module: Module, work: Path) -> None:
    """The work folder: links to the checkout, mutmut's settings, the asset's contract link."""
    work.mkdir(parents=True, exist_ok=True)
    links = {name: ROOT / name for name in [*SOURCE_PATHS, *ALSO_COPY, "tests", "pyproject.toml"]}
    links["preprocessing"] = ROOT / HANDLER
    for name, target in links.items():
        link = work / name
        if not link.is_symlink():
            link.symlink_to(target)
    (work / "setup.cfg").write_text(setup_cfg(module))
    # The asset's contract is a symlink to ../../contract: mutmut copies the packages without
    # following it, so link it again inside the copy (the mutated contract, not the original).
    asset_contract = work / "mutants" / "lambda" / "preprocess" / "contract"
    asset_contract.parent.mkdir(parents=True, exist_ok=True)
    if not asset_contract.is_symlink():
        asset_contract.symlink_to(Path("..") / ".." / "contract")


def meta_path(module: Module, work: Path) -> Path:
    return work / "mutants" / f"{module.path}.meta"


def retest_survivors(module: Module, work: Path) -> None:
    """Forget every verdict but "killed": mutmut keeps verdicts, and a new test may kill them."""
    path = meta_path(module, work)
    if not path.exists():
        return
    meta = json.loads(path.read_text())
    meta["exit_code_by_key"] = {key: code if code in (1, 3) else None
                                for key, code in meta["exit_code_by_key"].items()}
    path.write_text(json.dumps(meta, indent=4))


def equivalents() -> dict[str, str]:
    listed: dict[str, str] = {}
    for number, line in enumerate(EQUIVALENT.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, why = (part.strip() for part in line.partition("|"))
        if not sep or not why:
            raise SystemExit(f"{EQUIVALENT.name}:{number}: write '<mutant name> | <why it is equivalent>'")
        listed[name] = why
    return listed


def run(name: str, module: Module, jobs: int, fresh: bool) -> tuple[str, bool]:
    work = WORK / slug(name)
    if fresh and work.exists():
        shutil.rmtree(work)
    prepare(module, work)
    retest_survivors(module, work)
    log = work / "mutmut.log"
    start = time.monotonic()
    with log.open("w") as out:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        command = [str(MUTMUT), "run", "--max-children", str(1 if module.jsii else jobs)]
        process = subprocess.Popen(command, cwd=work, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        while module.jsii and process.poll() is None:
            # Mutants generated, tests mapped, clean and forced-fail runs passed: stop mutmut
            # before it starts a jsii runtime per mutant.
            if "Running mutation testing" in log.read_text(errors="replace"):
                os.killpg(process.pid, signal.SIGTERM)
                break
            time.sleep(1)
        code = process.wait()
    prepared = "Running mutation testing" in log.read_text(errors="replace")
    if module.jsii and prepared and meta_path(module, work).exists():
        code = jsii_workers(module, work, jobs)
    seconds = time.monotonic() - start
    if code != 0 or not meta_path(module, work).exists():
        return f"{name}: mutmut failed (exit {code}); see {log.relative_to(ROOT)}", False
    return report(name, module, work, f" in {seconds:.0f} s")


def jsii_workers(module: Module, work: Path, jobs: int) -> int:
    """Run every mutant without a verdict in ``jobs`` workers, each one process that keeps its
    jsii runtime and runs the mutant's tests in process (``pytest.main``, mutant chosen through
    mutmut's MUTANT_UNDER_TEST); verdicts go to mutmut's meta file as mutmut writes them."""
    from mutmut.utils.format_utils import mangled_name_from_mutant_name

    mutants = work / "mutants"
    meta = json.loads(meta_path(module, work).read_text())
    stats = json.loads((mutants / "mutmut-stats.json").read_text())
    reach, duration = stats["tests_by_mangled_function_name"], stats["duration_by_test"]
    pending: dict[str, list[str]] = {}
    for key, code in meta["exit_code_by_key"].items():
        if code in (1, 3):
            continue
        tests = reach.get(mangled_name_from_mutant_name(key), [])
        if not tests:
            meta["exit_code_by_key"][key] = 33  # mutmut's "no tests"
            continue
        pending[key] = sorted(tests, key=lambda t: duration.get(t, 0.0))  # quick kills first
    keys = sorted(pending)
    for old in work.glob("jsii-worker-*"):  # an earlier run's jobs and verdicts
        old.unlink()
    jobs_files = []
    for i in range(min(jobs, len(keys))):
        job = work / f"jsii-worker-{i}.json"
        job.write_text(json.dumps({"mutants": {k: pending[k] for k in keys[i::jobs]}}))
        jobs_files.append(job)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    codes = []
    with contextlib.ExitStack() as logs:
        workers = [subprocess.Popen([sys.executable, __file__, "--jsii-worker", str(job)], cwd=mutants,
                                    env=env, stdout=logs.enter_context((work / f"{job.stem}.log").open("w")),
                                    stderr=subprocess.STDOUT) for job in jobs_files]
        codes = [worker.wait() for worker in workers]
    for job in jobs_files:
        results = job.with_suffix(".out.json")
        if results.exists():
            meta["exit_code_by_key"].update(json.loads(results.read_text()))
    meta_path(module, work).write_text(json.dumps(meta, indent=4))
    return 1 if any(codes) else 0


def jsii_worker(job_file: Path) -> int:
    """One worker (cwd: the work folder's mutants/ copy, which comes first on sys.path)."""
    import pytest

    sys.path.insert(0, os.getcwd())
    results: dict[str, int] = {}
    out = job_file.with_suffix(".out.json")
    for key, tests in json.loads(job_file.read_text())["mutants"].items():
        os.environ["MUTANT_UNDER_TEST"] = key
        code = pytest.main(["--rootdir=.", "--tb=no", "-x", "-p", "no:cacheprovider", *PYTEST_ARGS, *tests])
        results[key] = int(code)  # 0 passed: survived; 1 failed: killed
        out.write_text(json.dumps(results))  # a stopped run keeps what it learned
    return 0


def report(name: str, module: Module, work: Path, took: str = "") -> tuple[str, bool]:
    """The score and every survivor neither killed nor listed, with its changed lines."""
    if not meta_path(module, work).exists():
        return f"{name}: no run on record in {work.relative_to(ROOT)}; run make mutate MODULE={name}", False
    verdicts = json.loads(meta_path(module, work).read_text())["exit_code_by_key"]
    killed = sorted(k for k, c in verdicts.items() if c in (1, 3))
    others = {k: c for k, c in verdicts.items() if c not in (1, 3)}
    listed = {k: why for k, why in equivalents().items() if k.startswith(mangled_prefix(module))}
    unexplained = sorted(k for k in others if k not in listed)
    stale = sorted(k for k in listed if k not in others)
    equivalent = len(others) - len(unexplained)
    considered = len(verdicts) - equivalent
    score = len(killed) / considered if considered else 1.0
    ok = score >= GOAL and not unexplained and not stale
    lines = [f"{name}: {score:.1%} killed ({len(killed)} of {considered}; {len(verdicts)} mutants, "
             f"{equivalent} listed equivalent){took}"]
    status = {0: "survived", 33: "no tests", 34: "skipped", 24: "timeout", 36: "timeout"}
    for key in unexplained:
        lines.append(f"    not killed, not listed: {key} ({status.get(others[key], f'exit {others[key]}')})")
        lines += [f"        {line}" for line in changed_lines(work, module, key)]
    lines += [f"    listed in {EQUIVALENT.name} but killed or gone: {k}" for k in stale]
    return "\n".join(lines), ok


def changed_lines(work: Path, module: Module, key: str) -> list[str]:
    """The mutant's diff, its changed lines only (what ``mutmut show`` prints, without a process
    per mutant)."""
    from mutmut.configuration import reset_config
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    here = Path.cwd()
    os.chdir(work)
    try:
        reset_config()
        shown = get_diff_for_mutant(key, path=module.path)
    finally:
        os.chdir(here)
    return [line for line in shown.splitlines()
            if line[:1] in "-+" and not line.startswith(("---", "+++"))]


def mangled_prefix(module: Module) -> str:
    return module.path.removesuffix(".py").replace("/", ".") + "."


def main(argv: list[str]) -> int:
    if argv[:1] == ["--jsii-worker"]:
        return jsii_worker(Path(argv[1]))
    names = argv or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        print(f"error: no mutation settings for {', '.join(unknown)}; one of: {', '.join(MODULES)}",
              file=sys.stderr)
        return 2
    jobs = int(os.environ.get("JOBS", os.cpu_count() or 2))
    fresh = os.environ.get("FRESH") == "1"
    only_report = os.environ.get("REPORT") == "1"
    ok = True
    for name in names:
        if only_report:
            shown, passed = report(name, MODULES[name], WORK / slug(name))
        else:
            shown, passed = run(name, MODULES[name], jobs, fresh)
        print(shown, flush=True)
        ok = ok and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
