"""Gradescope: the results.json of a graded submission, the whole ``run_autograder``
step, and the autograder zip that course staff upload.

Gradescope unpacks the zip into /autograder/source, runs its ``setup.sh`` once
when it builds the image, then for each submission runs
``/autograder/run_autograder`` with the student's files in
/autograder/submission and reads /autograder/results/results.json
(https://gradescope-autograders.readthedocs.io/en/latest/specs/).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import re
import time
import zipfile
from pathlib import Path
from typing import Any, Mapping

from . import __version__, _torch
from .errors import BpgradeError, SubmissionError
from .grader import Prepared, check
from .packs import PACK_FILE, Pack, load_pack
from .reports import Report
from .safetext import clean_name
from .packages import find_root, module_file
from .submissions import LINK_OUT, SUFFIXES, Submission, choose_file, within

#: Who sees a result on Gradescope, from least to most.
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
SUBMISSION_DIR = "/autograder/submission"
RESULTS_PATH = "/autograder/results/results.json"
#: What Gradescope says of the submission and the student's earlier ones.
METADATA_PATH = "/autograder/submission_metadata.json"
_DAY = datetime.timedelta(days=1)


def results(report: Report, *, visibility: str = "visible", stdout_visibility: str = "hidden") -> dict[str, Any]:
    """Gradescope's results.json for a graded submission: a test per target.

    ``score`` is the sum of the tests' scores and the ``max_score``s add up to
    the pack's points. Each test's output is the target's message and
    diagnosis, as in the text report (a failing public case is shown with its
    seed: cases meant to stay secret belong in the pack's hidden set). What the
    submission printed is left out: it could show the hidden cases' inputs.
    """
    tests = [_test(i, t.name, t.score, t.max_score, t.passed, t.feedback) for i, t in enumerate(report.targets, 1)]
    hidden = f", {report.hidden_cases} of them hidden (only their counts are shown)" if report.hidden_cases else ""
    output = f"bpgrade {report.exercise}: {report.cases} cases{hidden}, graded on {report.device}."
    if report.status != "ok":
        output += f"\n\nThe submission did not run ({report.status}): {report.message}"
    if report.notes:
        output += "\n\nNotes:\n" + "\n".join(f"- {note}" for note in report.notes)
    return _results(report.score, report.seconds, output, tests, visibility, stdout_visibility)


def crash_results(pack: Pack | None, message: str, seconds: float, *, visibility: str = "visible",
                  stdout_visibility: str = "hidden", autograder_error: bool = False) -> dict[str, Any]:
    """A valid results.json with no points when nothing could be graded:
    every target of ``pack`` (none when the pack itself failed) fails with ``message``.
    ``autograder_error``: the autograder failed, not the submission; such a run is marked
    (``extra_data``) so that it does not count against the student's daily submissions."""
    tests = [_test(i, t.name, 0.0, t.points, False, message) for i, t in enumerate(pack.targets if pack else (), 1)]
    data = _results(0.0, seconds, message, tests, visibility, stdout_visibility)
    if autograder_error:
        data["extra_data"] = {"bpgrade": {"autograder_error": True}}
    return data


def feedback_returns(metadata: Mapping[str, Any], per_day: int) -> datetime.datetime | None:
    """When a submission past the limit of ``per_day`` graded submissions in 24 hours gets its
    feedback back (the time from which a new one is within the limit); None when this one is within it.

    The window is the 24 hours before this submission's ``created_at`` (Gradescope's clock, not
    this machine's), counting the earlier ``previous_submissions`` of ``metadata``, but for runs
    in which the autograder itself failed.

    Raises:
      ValueError: metadata without a readable ``created_at``.
    """
    created = _when(metadata.get("created_at"))
    if created is None:
        raise ValueError("no created_at")
    times = []
    for previous in metadata.get("previous_submissions") or ():
        when = _when(previous.get("submission_time")) if isinstance(previous, Mapping) else None
        results = previous.get("results") if isinstance(previous, Mapping) else None
        failed = isinstance(previous, Mapping) and _autograder_failed(previous, results)
        if when is not None and not failed and created - _DAY < when <= created:
            times.append(when)
    times.sort()
    return times[-per_day] + _DAY if len(times) >= per_day else None


def _autograder_failed(previous: Mapping, results: Any) -> bool:
    """Whether an earlier run failed through the autograder's fault: marked ``autograder_error``
    by Gradescope (on the run or its results) or by bpgrade (in its results' ``extra_data``)."""
    if previous.get("autograder_error") is True:
        return True
    if not isinstance(results, Mapping):
        return False
    extra = results.get("extra_data")
    ours = extra.get("bpgrade") if isinstance(extra, Mapping) else None
    return results.get("autograder_error") is True or isinstance(ours, Mapping) and ours.get("autograder_error") is True


def _when(text: Any) -> datetime.datetime | None:
    """A timestamp of Gradescope's metadata (ISO 8601 with its offset), or None."""
    try:
        when = datetime.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.timezone.utc)


def daily_limit(data: dict[str, Any], per_day: int, metadata: str | Path = METADATA_PATH
                ) -> tuple[dict[str, Any], str | None]:
    """``data`` as the limit of ``per_day`` submissions with feedback leaves it (see
    :func:`feedback_returns`), and a warning for the staff when the metadata cannot be read
    (then no limit applies: a student is never held back by the autograder's trouble)."""
    try:
        back = feedback_returns(json.loads(Path(metadata).read_text(encoding="utf-8")), per_day)
    except (OSError, ValueError, AttributeError, TypeError) as e:
        return data, f"no daily limit applied: cannot read {metadata} ({e})"
    return (data, None) if back is None else (_rate_limited(data, per_day, back), None)


def _rate_limited(data: dict[str, Any], per_day: int, back: datetime.datetime) -> dict[str, Any]:
    """``data`` (a results.json) for a submission past the daily limit: its score kept, each test's
    feedback shown only after the due date, and an output that says when feedback comes back."""
    tests = [{**test, "visibility": "after_due_date"} for test in data["tests"]]
    output = (f"This is your submission beyond the {per_day} a day that get feedback: it is graded, and its "
              f"score counts, but what each test found is shown after the due date. A submission made after "
              f"{back.isoformat(timespec='minutes')} gets its feedback again.")
    return {**data, "tests": tests, "output": output}


def _test(number: int, name: str, score: float, max_score: float, passed: bool, output: str) -> dict[str, Any]:
    return {"name": name, "number": str(number), "score": score, "max_score": max_score,
            "status": "passed" if passed else "failed", "output": output, "visibility": "visible"}


def _results(score: float, seconds: float, output: str, tests: list[dict], visibility: str,
             stdout_visibility: str) -> dict[str, Any]:
    for name, value in (("visibility", visibility), ("stdout_visibility", stdout_visibility)):
        if value not in VISIBILITIES:
            raise BpgradeError(f"{name} must be one of {', '.join(VISIBILITIES)}, not {value!r}")
    return {"score": score, "execution_time": round(seconds, 3), "output": output, "output_format": "text",
            "test_output_format": "text", "visibility": visibility, "stdout_visibility": stdout_visibility,
            "tests": tests}


def find_submission(folder: str | Path, pack: Pack) -> Submission:
    """What to grade among what the student uploaded to ``folder``.

    The file is chosen by the rule ``bpgrade grade`` applies to a sub-folder
    (:func:`~bpgrade.submissions.choose_file`), among the ``.py`` and ``.ipynb``
    files wherever they lie in the upload: the only one; else the one that
    defines the most of the pack's functions. The ``.py`` files beside it are
    modules it may import. Symbolic links are not followed out of ``folder``,
    nor into sub-folders. A package pack's submission is the upload itself, or
    the one ``.zip`` in it.

    Raises:
      SubmissionError: no such folder, no candidate, a tie between several, or
        a candidate that is a link out of the folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"{folder}: no submission folder")
    if pack.module:
        found = _find_package(folder, pack.module)
        return Submission(clean_name(found.stem), found, module=pack.module)
    root = folder.resolve()
    candidates = []
    for parent, dirs, files in os.walk(folder):  # os.walk does not follow links to folders
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        candidates += [Path(parent) / name for name in files
                       if Path(name).suffix in SUFFIXES and not name.startswith((".", "__"))]
    candidates.sort()
    out = [p for p in candidates if p.is_symlink() and not within(p, root)]
    if out:
        raise SubmissionError(f"{clean_name(str(out[0].relative_to(folder)))} {LINK_OUT}: upload the file itself")
    candidates = [p for p in candidates if p.is_file() and not p.is_symlink()]
    if not candidates:
        raise SubmissionError(f"no .py or .ipynb file was submitted; upload the file that defines "
                              f"{', '.join(pack.submission_names)}")
    chosen = choose_file(candidates, pack.submission_names)
    if chosen is None:
        names = ", ".join(clean_name(str(p.relative_to(folder))) for p in candidates)
        raise SubmissionError(f"several files could be the submission ({names}); submit only the one that defines "
                              f"the gradient functions, or name it submission.py")
    siblings = tuple(p for p in candidates if p.parent == chosen.parent and p.suffix == ".py" and p != chosen)
    return Submission(clean_name(chosen.stem), chosen, siblings=siblings)


def _find_package(folder: Path, module: str) -> Path:
    """A package pack's submission: the upload itself (Gradescope unzips a .zip into it), or the one
    .zip archive in it."""
    if find_root(folder, module) is not None:
        return folder
    archives = sorted(p for p in folder.iterdir() if p.suffix == ".zip" and p.is_file() and not p.is_symlink())
    if len(archives) == 1:
        return archives[0]
    raise SubmissionError(f"no {module_file(module)} was submitted: upload the assignment's folder or its .zip"
                          + (f" (found {len(archives)} .zip files)" if archives else ""))


def autograde(exercise: str | Path | Pack, submission_dir: str | Path = SUBMISSION_DIR, *,
              seed: int | None = None, device: str | None = None, timeout: float | None = None,
              visibility: str = "visible", stdout_visibility: str = "hidden", run_all: bool = False,
              max_size: int | None = None) -> dict[str, Any]:
    """Grade what a student uploaded (``run_all``: a notebook runs every code cell; ``max_size``:
    the most bytes of code it may run): the results.json for it.

    A submission that cannot be found or does not run still gets a valid
    result (no points, and why).

    Raises:
      BpgradeError: the exercise cannot be loaded or the device is not there
        (the autograder's fault, not the student's).
    """
    start = time.monotonic()
    pack = exercise if isinstance(exercise, Pack) else Prepared.make(exercise, seed, device).pack
    try:
        found = find_submission(submission_dir, pack)
        report = check(exercise, found, seed=seed, device=device, timeout=timeout, run_all=run_all, max_size=max_size)
    except SubmissionError as e:
        return crash_results(pack, str(e), time.monotonic() - start, visibility=visibility,
                             stdout_visibility=stdout_visibility)
    return results(report, visibility=visibility, stdout_visibility=stdout_visibility)


_SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image:
# it installs bpgrade (bundled here) and its dependencies into source/venv.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PYTHON="$candidate"
        break
    fi
done
if [ -z "$PYTHON" ]; then
    # jax needs Python 3.11 or newer; Gradescope's Ubuntu 22.04 image has 3.10, its 24.04 one 3.12.
    apt-get update
    apt-get install -y python3.11 python3.11-venv
    PYTHON=python3.11
fi
"$PYTHON" -m venv venv
venv/bin/pip install --quiet --upgrade pip
venv/bin/pip install --quiet ./bpgrade-src{torch}
# The truth of the graded cases goes into the image's truth store (root's alone): each run reads it
# without JAX. The image is built only if the pack grades its own reference solution as declared.
export BPGRADE_CACHE_DIR="$PWD/xla-cache"
export BPGRADE_STORE_DIR="$PWD/truth-store"
venv/bin/bpgrade prepare -e pack{seed}
if [ -d pack/selftest ]; then
    venv/bin/bpgrade selftest -e pack --seeds {seeds}
fi
"""

_RUN = """\
#!/usr/bin/env bash
# Gradescope copies this to /autograder/run_autograder and runs it for each
# submission; bpgrade writes results/results.json, a valid one even when the
# submission crashes.
ROOT="$(cd "$(dirname "$0")" && pwd)"
export BPGRADE_CACHE_DIR="$ROOT/source/xla-cache"
export BPGRADE_STORE_DIR="$ROOT/source/truth-store"
exec "$ROOT/source/venv/bin/bpgrade" gradescope -e "$ROOT/source/pack" \\
    --submission-dir "$ROOT/submission" --results "$ROOT/results/results.json"{options}
"""

_PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "bpgrade"
version = "{version}"
requires-python = ">=3.11"
# The versions that made this bundle, so that Gradescope grades with what staff tested.
dependencies = [{dependencies}]

[project.scripts]
bpgrade = "bpgrade.__main__:run"

# Every folder a namespace package with its data declared: setuptools has nothing to warn about
# (with the current pip that setup.sh installs, it would print hundreds of lines into the build log).
[tool.setuptools.packages.find]
include = ["bpgrade", "bpgrade.*"]
namespaces = true

[tool.setuptools.package-data]
"*" = ["*.yaml", "*.md", "*.py"]
"""

_DEPENDENCIES = ("jax", "jaxlib", "numpy", "pyyaml")


def bundle(exercise: str | Path | Pack, out: str | Path, *, seed: int | None = None,
           timeout: float | None = None, visibility: str = "visible", run_all: bool = False,
           max_size: int | None = None, max_per_day: int | None = None,
           hidden_seed: int | None = None) -> list[str]:
    """Write the autograder zip for ``exercise`` to ``out``: ``setup.sh``,
    ``run_autograder``, the pack in ``pack/`` and bpgrade's source in
    ``bpgrade-src/`` (its dependencies pinned to the versions installed here).

    ``seed``, ``timeout``, ``visibility``, ``run_all``, ``max_size`` (bytes) and ``max_per_day``
    are passed to every run. ``hidden_seed`` sets the hidden cases' seed in the bundle's copy of
    the pack (see :func:`bundle_warnings`). Returns the names written, in order.
    """
    pack = exercise if isinstance(exercise, Pack) else load_pack(exercise)
    if visibility not in VISIBILITIES:
        raise BpgradeError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")
    sizes = None if max_size is None else f"{max_size / (1 << 20):.17g}"
    options = "".join(f" \\\n    {flag} {value}" for flag, value in
                      (("--seed", seed), ("--timeout", timeout), ("--visibility", visibility), ("--max-size", sizes),
                       ("--max-per-day", max_per_day))
                      if value is not None)
    options += " \\\n    --run-all" if run_all else ""
    pins = ", ".join(f'"{name}=={importlib.metadata.version(name)}"' for name in _DEPENDENCIES)
    names: list[str] = []
    try:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            def add(name: str, data: bytes, executable: bool = False) -> None:
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (0o100755 if executable else 0o100644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
                names.append(name)

            # The self-test compiles the truth of the case sets run_autograder grades: the hidden one too.
            hidden = hidden_seed if hidden_seed is not None else pack.cases.hidden_seed
            seeds = seed if seed is not None else "public" + (f",{hidden}" if hidden is not None else "")
            setup = _SETUP.format(seeds=seeds, torch=_torch_install(pack),
                                  seed="" if seed is None else f" --seed {seed}")
            add("setup.sh", setup.encode(), executable=True)
            add("run_autograder", _RUN.format(options=options).encode(), executable=True)
            for path, rel in _files(pack.root):
                data = path.read_bytes()
                if rel == PACK_FILE and hidden_seed is not None:
                    data = with_hidden_seed(data.decode("utf-8"), hidden_seed).encode()
                add(f"pack/{rel}", data)
            add("bpgrade-src/pyproject.toml", _PYPROJECT.format(version=__version__, dependencies=pins).encode())
            for path, rel in _files(Path(__file__).resolve().parent):
                add(f"bpgrade-src/bpgrade/{rel}", path.read_bytes())
    except OSError as e:
        raise BpgradeError(f"cannot write {out}: {e.strerror}") from None
    return names


def bundle_warnings(pack: Pack, seed: int | None, hidden_seed: int | None) -> list[str]:
    """What staff should know before uploading a bundle of ``pack``."""
    if seed is None and hidden_seed is None and pack.cases.hidden_seed is None:
        return [f"{pack.name} has no hidden cases: students can run every case the autograder grades with "
                "'bpgrade check' before they submit (add --hidden-seed N to grade a second, secret set)"]
    return []


def with_hidden_seed(text: str, seed: int) -> str:
    """exercise.yaml's text with ``cases.hidden_seed`` set to ``seed`` (its comments kept).

    Raises:
      BpgradeError: a file whose ``cases`` mapping cannot be found as a block.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"cases:\s*(#.*)?$", line)), None)
    if start is None:
        raise BpgradeError(f"cannot set the hidden seed: {PACK_FILE} has no block 'cases:'")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() and not lines[i][0].isspace()),
               len(lines))
    block = [i for i in range(start + 1, end) if lines[i].strip() and not lines[i].lstrip().startswith("#")]
    indent = re.match(r"\s*", lines[block[0]])[0] if block else "  "
    entry = f"{indent}hidden_seed: {int(seed)}\n"
    for i in block:
        if re.match(rf"{indent}hidden_seed\s*:", lines[i]):
            lines[i] = entry
            return "".join(lines)
    lines.insert(start + 1, entry)
    return "".join(lines)


def _torch_install(pack: Pack) -> str:
    """The line of setup.sh that installs PyTorch for a pack that allows it: the version tested here,
    CPU-only (the default build from PyPI brings gigabytes of CUDA libraries the autograder never uses)."""
    if "torch" not in pack.array_library:
        return ""
    version = importlib.metadata.version("torch").partition("+")[0] if _torch.installed() else None
    pin = f"torch=={version}" if version else "torch"
    return f"\nvenv/bin/pip install --quiet --index-url https://download.pytorch.org/whl/cpu '{pin}'"


def _files(root: Path) -> list[tuple[Path, str]]:
    """The files under ``root`` (following links, as the shipped packs are one),
    without caches, as ``(path, relative name)`` sorted by name."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in files:
            if not name.endswith(".pyc") and not name.startswith("."):
                path = Path(folder) / name
                found.append((path, path.relative_to(root).as_posix()))
    return sorted(found, key=lambda item: item[1])
