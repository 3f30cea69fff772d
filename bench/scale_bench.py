"""Benchmark of ``xgbapi prepare`` and local training at scale (not a test): `make bench-scale`.

Method. A synthetic table, the same for a given size on every run (fixed seed; with sizes in
multiples of 100,000 rows a smaller table is the first rows of a larger one), is streamed to
CSV in chunks of 100,000 rows (numpy; the whole table is never in memory): 10 numeric columns
(x1, x4 and x7 with ~1% empty cells), 3 categorical columns with skewed (Zipf) frequencies over
5, 20 and 200 values, one short text column (3-8 words drawn, skewed, from a 2000-word synthetic
vocabulary) and a numeric ``target`` that depends on some of each plus noise. Default sizes
1,000,000 and 4,000,000 rows (``--rows``); the figures below compare the smallest size ("1M")
with the largest ("4M"), from one run (ratios, not absolute speeds: they are what the goals are
about).

Each step runs as a child process, as a user runs it; its peak RSS is the child's ``ru_maxrss``
from ``os.wait4`` (exact, no polling) and its wall time includes interpreter start-up and imports:

1. ``xgbapi prepare --data CSV --target target --out DIR`` at each size (its defaults: kinds
   guessed, train/validation/test 60/20/20 with seed 42, encodings fitted on the train split):
   rows/s and peak RSS.
2. The pandas way at the smallest size (this file with ``--pandas-child``): ``pd.read_csv``,
   ``pd.get_dummies`` on the 3 categorical columns (on the whole table, as usually done; uint8
   columns), ``train_test_split`` 60/20/20 with seed 42, label-first ``to_csv`` of the three
   splits without index or header. The text column is dropped: pandas has no bag of words, so
   this favours pandas (prepare also tokenizes the text, fits a vocabulary on it and writes the
   raw test rows beside the splits).
3. ``xgbapi train --backend local --prepared DIR --hp num_round=20 --hp early_stopping_rounds=5``
   on each prepared folder: peak RSS and wall time.

Goals: prepare's peak RSS at 4M <= 1.2x its peak RSS at 1M (memory bounded by the streaming, not
by the table); prepare's rows/s at 1M >= 1.0x the pandas way's; local training's peak RSS at 4M
<= 1.5x at 1M. ``--check``: exit 1 when a goal is missed. A child that fails: its stderr tail is
printed and the run exits 2.

Disk: the generated CSVs, the prepared folders and the pandas output all stay until the end
(about 540 MB of CSV at 4M rows, 2.6 GB in all; the estimate is printed first and the free space of the work
directory checked). Everything lives in one temp directory (under the system temp, or under
``--work DIR``) that is removed at the end, also on Ctrl-C, unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
XGBAPI = Path(sys.executable).with_name("xgbapi")  # the venv's CLI (make runs .venv/bin/python)

DATA_SEED = 20240611  # the synthetic table
SPLIT_SEED = 42  # prepare's default split seed, used by the pandas way too
CHUNK_ROWS = 100_000
NUMERIC = [f"x{i}" for i in range(10)]
MISSING_IN = ("x1", "x4", "x7")  # ~1% empty cells
MISSING_RATE = 0.01
CATEGORIES = {"color": 5, "region": 20, "product": 200}
TEXT = "note"
VOCABULARY = 2000
TARGET = "target"
COLUMNS = [*NUMERIC, *CATEGORIES, TEXT, TARGET]
GOAL_PREPARE_RSS, GOAL_SPEED, GOAL_TRAIN_RSS = 1.2, 1.0, 1.5
# Disk estimate: output bytes per CSV byte, measured on this table (prepare: libsvm splits plus
# the raw test rows, ~1.3; pandas: 225 uint8 dummy columns, ~3.9), with room for another writer.
PREPARED_PER_CSV_BYTE, PANDAS_PER_CSV_BYTE, DISK_MARGIN = 1.6, 4.5, 1.1
ESTIMATE_SAMPLE_ROWS = 20_000
MB = 1_000_000
TRAIN_HP = ("num_round=20", "early_stopping_rounds=5")


# ------------------------------------------------------------------------------- the table


def _zipf(n: int, exponent: float) -> Any:
    import numpy as np

    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def _vocabulary(rng: Any) -> list[str]:
    """VOCABULARY distinct lowercase words of 2-3 syllables (no digits: each is one token)."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    n = len(syllables)
    picks = rng.choice(n * n + n ** 3, size=VOCABULARY, replace=False)
    words = []
    for p in picks.tolist():
        if p < n * n:
            words.append(syllables[p // n] + syllables[p % n])
        else:
            p -= n * n
            words.append(syllables[p // (n * n)] + syllables[p // n % n] + syllables[p % n])
    return words


def _formatted(values: Any, spec: str, missing: Any = None) -> list[str]:
    cells = [format(v, spec) for v in values.tolist()]
    if missing is not None:
        for i in missing.nonzero()[0].tolist():
            cells[i] = ""
    return cells


def table_chunks(rows: int) -> Any:
    """The table's CSV text (header first), CHUNK_ROWS rows at a time: a deterministic stream."""
    import numpy as np

    rng = np.random.default_rng(DATA_SEED)
    words = _vocabulary(rng)
    word_p = _zipf(VOCABULARY, 1.0)
    category_p = {name: _zipf(n, 1.2) for name, n in CATEGORIES.items()}
    category_effect = {name: rng.normal(0, 1.0, n) for name, n in CATEGORIES.items()}
    yield ",".join(COLUMNS) + "\n"
    done = 0
    while done < rows:
        n = min(CHUNK_ROWS, rows - done)
        x = [rng.normal(0, 1, n), rng.uniform(0, 100, n), rng.lognormal(0, 1, n),
             rng.poisson(3, n), rng.normal(50, 10, n), rng.exponential(2, n), rng.uniform(-1, 1, n),
             rng.normal(0, 5, n), rng.integers(0, 1000, n), rng.beta(2, 5, n)]
        specs = [".4f", ".2f", ".4g", "d", ".3f", ".4f", ".5f", ".3f", "d", ".4f"]
        missing = {name: rng.random(n) < MISSING_RATE for name in MISSING_IN}
        codes = {name: rng.choice(len(p), size=n, p=p) for name, p in category_p.items()}
        counts = rng.integers(3, 9, n)
        picked = rng.choice(VOCABULARY, size=int(counts.sum()), p=word_p)
        ends = np.cumsum(counts)
        starts = ends - counts
        frequent = np.add.reduceat((picked < 10).astype(np.int64), starts)  # the 10 commonest words
        x1 = np.where(missing["x1"], 50.0, x[1])
        target = (2.0 * x[0] + 0.03 * x1 - 1.5 * np.log(x[2]) + 0.5 * x[3] + 0.1 * np.sin(x[6] * 3)
                  + category_effect["color"][codes["color"]] + category_effect["region"][codes["region"]]
                  + 0.5 * category_effect["product"][codes["product"]] + 0.8 * frequent
                  + rng.normal(0, 1, n))
        cells = [_formatted(values, spec, missing.get(name))
                 for name, values, spec in zip(NUMERIC, x, specs, strict=True)]
        cells += [[f"{name}_{c}" for c in codes[name].tolist()] for name in CATEGORIES]
        chosen = [words[i] for i in picked.tolist()]
        cells.append([" ".join(chosen[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)])
        cells.append(_formatted(target, ".4f"))
        yield "\n".join(map(",".join, zip(*cells, strict=True))) + "\n"
        done += n


def write_table(path: Path, rows: int) -> float:
    """Stream the table to ``path``; seconds taken."""
    started = time.perf_counter()
    with path.open("w", encoding="utf-8", newline="") as handle:
        for text in table_chunks(rows):
            handle.write(text)
    return time.perf_counter() - started


def csv_bytes_per_row() -> float:
    """Bytes per data row of the CSV, from its first ESTIMATE_SAMPLE_ROWS rows."""
    chunks = table_chunks(ESTIMATE_SAMPLE_ROWS)
    next(chunks)  # header
    return sum(len(text.encode()) for text in chunks) / ESTIMATE_SAMPLE_ROWS


# ------------------------------------------------------------------------------- the pandas way


def pandas_child(csv: Path, out: Path) -> None:
    """What a pandas user writes for this table (the text column dropped: no bag of words)."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(csv).drop(columns=[TEXT])
    frame = pd.get_dummies(frame, columns=list(CATEGORIES), dtype="uint8")
    frame = frame[[TARGET, *(c for c in frame.columns if c != TARGET)]]  # label first, as XGBoost reads
    rest, test = train_test_split(frame, test_size=0.2, random_state=SPLIT_SEED)
    train, validation = train_test_split(rest, test_size=0.25, random_state=SPLIT_SEED)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        part.to_csv(out / f"{name}.csv", index=False, header=False)


# ------------------------------------------------------------------------------- children


class ChildFailed(Exception):
    pass


@dataclass(frozen=True)
class Measured:
    wall: float  # seconds, start to exit
    peak_rss: int  # bytes
    stdout: str


_running: list[subprocess.Popen[bytes]] = []


def measure(name: str, command: list[str], logs: Path, cwd: Path) -> Measured:
    """Run ``command``; its wall time and peak RSS (wait4's ru_maxrss), or ChildFailed."""
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=cwd)
        _running.append(child)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        _running.remove(child)
    if child.returncode != 0:
        tail = err.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
        raise ChildFailed(f"{name} failed (exit {child.returncode}): {' '.join(command)}\n"
                          + "\n".join(f"  | {line}" for line in tail))
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return Measured(wall, usage.ru_maxrss * scale, out.read_text(encoding="utf-8", errors="replace"))


def stop_children() -> None:
    for child in list(_running):
        if child.poll() is None:
            child.kill()
        child.wait()
        _running.remove(child)


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# ------------------------------------------------------------------------------- main


def parse_rows(text: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rows {text!r}: comma-separated row counts") from None
    if len(sizes) < 2 or sizes[0] < 1000:
        raise argparse.ArgumentTypeError("--rows: at least two different sizes of 1000 rows or more")
    return sizes


def label(rows: int) -> str:
    return f"{rows / 1e6:g}M" if rows >= 1_000_000 else f"{rows / 1e3:g}k"


def disk_plan(sizes: list[int]) -> tuple[int, list[str]]:
    """Bytes needed (with margin) and the lines explaining it."""
    per_row = csv_bytes_per_row()
    csv_total = sum(per_row * rows for rows in sizes)
    prepared = csv_total * PREPARED_PER_CSV_BYTE
    pandas = per_row * sizes[0] * PANDAS_PER_CSV_BYTE
    need = int((csv_total + prepared + pandas) * DISK_MARGIN)
    lines = [f"  CSVs {' + '.join(f'{per_row * r / MB:,.0f}' for r in sizes)} MB ({per_row:.0f} B/row), "
             f"prepared ~{prepared / MB:,.0f} MB, pandas output ~{pandas / MB:,.0f} MB "
             f"-> needs ~{need / 1e9:.2f} GB with {DISK_MARGIN - 1:.0%} margin"]
    return need, lines


def run(args: argparse.Namespace, work: Path) -> tuple[list[tuple[str, str, float, float, bool]], str]:
    sizes: list[int] = args.rows
    xgbapi = str(args.xgbapi)
    small, large = sizes[0], sizes[-1]
    logs = work / "logs"
    logs.mkdir()
    python = sys.executable
    generated: dict[int, tuple[Path, float]] = {}
    prepared: dict[int, tuple[Measured, int]] = {}
    trained: dict[int, Measured] = {}
    pandas: tuple[Measured, int] | None = None
    for rows in sizes:
        csv = work / f"table-{rows}.csv"
        seconds = write_table(csv, rows)
        generated[rows] = (csv, seconds)
        print(f"[{label(rows)}] generated {csv.name}: {csv.stat().st_size / MB:,.1f} MB in {seconds:.1f} s",
              flush=True)
        out = work / f"prepared-{rows}"
        m = measure(f"prepare-{rows}", [xgbapi, "prepare", "--data", str(csv), "--target", TARGET,
                                        "--out", str(out)], logs, work)
        prepared[rows] = (m, tree_bytes(out))
        print(f"[{label(rows)}] prepare: {m.wall:.1f} s, peak RSS {m.peak_rss / MB:,.0f} MB", flush=True)
        if rows == small:
            print("  " + "\n  ".join(m.stdout.strip().splitlines()[:20]), flush=True)
            pandas_out = work / f"pandas-{rows}"
            p = measure(f"pandas-{rows}", [python, str(Path(__file__).resolve()), "--pandas-child",
                                           str(csv), str(pandas_out)], logs, work)
            pandas = (p, tree_bytes(pandas_out))
            print(f"[{label(rows)}] pandas way: {p.wall:.1f} s, peak RSS {p.peak_rss / MB:,.0f} MB",
                  flush=True)
        t = measure(f"train-{rows}", [xgbapi, "train", "--backend", "local", "--prepared", str(out),
                                      "--runs-dir", str(work / "runs"), "--variant", "bench",
                                      *(a for hp in TRAIN_HP for a in ("--hp", hp))], logs, work)
        trained[rows] = t
        print(f"[{label(rows)}] train (local): {t.wall:.1f} s, peak RSS {t.peak_rss / MB:,.0f} MB",
              flush=True)
    assert pandas is not None

    print(f"\nResults ({', '.join(label(r) for r in sizes)} rows; rows/s include process start-up)")
    print(f"{'step':26s} {'rows':>10s} {'input MB':>9s} {'wall s':>8s} {'rows/s':>10s} "
          f"{'peak RSS MB':>12s} {'output MB':>10s}")
    for rows in sizes:
        csv_mb = generated[rows][0].stat().st_size / MB
        m, size = prepared[rows]
        print(f"{'xgbapi prepare':26s} {rows:10,d} {csv_mb:9,.1f} {m.wall:8.1f} {rows / m.wall:10,.0f} "
              f"{m.peak_rss / MB:12,.0f} {size / MB:10,.1f}")
        if rows == small:
            p, psize = pandas
            print(f"{'pandas way (no text)':26s} {rows:10,d} {csv_mb:9,.1f} {p.wall:8.1f} "
                  f"{rows / p.wall:10,.0f} {p.peak_rss / MB:12,.0f} {psize / MB:10,.1f}")
    for rows in sizes:
        t = trained[rows]
        print(f"{'xgbapi train (local)':26s} {rows:10,d} {prepared[rows][1] / MB:9,.1f} {t.wall:8.1f} "
              f"{rows / t.wall:10,.0f} {t.peak_rss / MB:12,.0f} {'':>10s}")

    p = pandas[0]
    m_small, m_large = prepared[small][0], prepared[large][0]
    t_small, t_large = trained[small], trained[large]
    s, big = label(small), label(large)
    goals = [
        (f"prepare peak RSS {big} / {s}",
         f"{m_large.peak_rss / MB:,.0f} / {m_small.peak_rss / MB:,.0f} MB",
         m_large.peak_rss / m_small.peak_rss, GOAL_PREPARE_RSS, True),
        (f"prepare rows/s / pandas rows/s at {s}",
         f"{small / m_small.wall:,.0f} / {small / p.wall:,.0f}",
         p.wall / m_small.wall, GOAL_SPEED, False),
        (f"train peak RSS {big} / {s}",
         f"{t_large.peak_rss / MB:,.0f} / {t_small.peak_rss / MB:,.0f} MB",
         t_large.peak_rss / t_small.peak_rss, GOAL_TRAIN_RSS, True),
    ]
    print(f"\n{'goal':38s} {'figures':>24s} {'ratio':>7s} {'goal':>8s}  result")
    results = []
    for name, figures, ratio, goal, at_most in goals:
        met = ratio <= goal if at_most else ratio >= goal
        print(f"{name:38s} {figures:>24s} {ratio:7.2f} {('<= ' if at_most else '>= ') + f'{goal}':>8s}  "
              f"{'met' if met else 'MISSED'}")
        results.append((name, figures, ratio, goal, met))
    extra = (f"pandas way peak RSS at {s}: {p.peak_rss / MB:,.0f} MB beside prepare's "
             f"{m_small.peak_rss / MB:,.0f} MB ({m_small.peak_rss / p.peak_rss:.2f}x)")
    print(extra)
    return results, extra


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=parse_rows, default=[1_000_000, 4_000_000],
                        help="comma-separated table sizes (default 1000000,4000000); ratios compare the "
                             "smallest and the largest, the pandas way runs at the smallest")
    parser.add_argument("--xgbapi", type=Path, default=XGBAPI,
                        help=f"the CLI to measure (default {XGBAPI}), e.g. another checkout's")
    parser.add_argument("--work", type=Path, help="directory to work in (default: the system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory for inspection")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--pandas-child", nargs=2, metavar=("CSV", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pandas_child:
        pandas_child(Path(args.pandas_child[0]), Path(args.pandas_child[1]))
        return 0

    started = time.perf_counter()
    if not args.xgbapi.exists():
        print(f"error: {args.xgbapi} not found; run make install", file=sys.stderr)
        return 2
    parent = args.work or Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} cpus; sizes "
          f"{', '.join(f'{r:,d}' for r in args.rows)} rows")
    need, lines = disk_plan(args.rows)
    free = shutil.disk_usage(parent).free
    print("disk:\n" + "\n".join(lines) + f"; {free / 1e9:.1f} GB free in {parent}")
    if free < need:
        print(f"error: not enough disk in {parent}: the run needs ~{need / 1e9:.2f} GB, "
              f"{free / 1e9:.2f} GB are free. Free some space, pass --work DIR on a larger disk, "
              "or use smaller --rows", file=sys.stderr)
        return 2

    # Ctrl-C and SIGTERM end the run through the finally below (SIGINT too when started in the
    # background, where the shell ignores it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="scale-bench-", dir=parent))
    print(f"work dir: {work}{' (kept)' if args.keep else ' (removed at the end)'}", flush=True)
    status = 0
    try:
        results, _ = run(args, work)
        if args.check and not all(met for *_, met in results):
            status = 1
    except ChildFailed as failure:
        sys.stdout.flush()
        print(f"\nerror: {failure}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        status = 130
    finally:
        stop_children()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nmake bench-scale: {time.perf_counter() - started:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
