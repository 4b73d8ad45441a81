"""Grading: one submission (``check``) or a batch (``grade``), from cases to reports.

Both compute the cases and the truth once, run submissions (in the sandbox,
or in this process for a dict of functions), compare every target, and build
a :class:`~bpgrade.reports.Report` per submission. ``grade`` also writes each
report to the gradebook as soon as it is made.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

from . import _torch, forkserver, store
from .cases import Case
from .compare import Expected, compare_target, not_run
from .diagnosis import Diagnoser
from .errors import BpgradeError, SubmissionError
from .gradebook import Gradebook
from .packs import Pack, load_pack, pack_folder
from .notebooks import exported_notebook, parse_notebook, read_notebook
from .packages import find_root, is_package, module_file, read_package
from .reports import Report
from .runner import Job, Limits, RunResult, run_functions
from .forkserver import Server
from .sandbox import DEFAULT_JOBS, TORCH_MISSING, Sandbox, run_file
from .safetext import clean_name
from .submissions import DEFAULT_MAX_SOURCE, SUFFIXES, Submission, collect, folder_submission, read_source

SubmissionArg = str | Path | Submission | Mapping[str, Callable]


@dataclass(frozen=True)
class Progress:
    """Where a batch stands, after each submission: ``done`` of ``total`` (the
    ``skipped`` ones, graded before, included), seconds since the start."""

    done: int
    total: int
    skipped: int
    elapsed: float


@dataclass(frozen=True)
class Prepared:
    """What grading a pack on a case set needs before any submission runs: the
    pack, its cases, the truth laid out for comparison (per target, one
    :class:`~bpgrade.compare.Expected` per leaf), where it was computed, and
    the diagnoser. Made by :meth:`make`."""

    pack: Pack
    cases: tuple[Case, ...]
    expected: Mapping[str, list[Expected]]
    device: str
    diagnoser: Diagnoser

    @classmethod
    def make(cls, exercise: str | Path | Pack, seed: int | None, device: str | None) -> "Prepared":
        """A pack named by its name or folder is read with its truths from the truth store
        (:mod:`bpgrade.store`), without JAX; they are computed and stored when the store has
        none to trust. A :class:`Pack` object (which may differ from its files) is computed afresh.
        Either is kept for the rest of the process.

        Raises:
          BpgradeError: the pack is invalid, needs PyTorch that is not installed, or the device is not there.
        """
        return _prepare(_open(exercise, seed, device), seed, device)

    @classmethod
    def of(cls, pack: Pack, truths: store.Truths) -> "Prepared":
        expected = {t.name: Expected.leaves(truths.gradients[t.name]) for t in pack.targets}
        return cls(pack, truths.cases, expected, truths.platform, Diagnoser(pack, truths.cases, truths.mistakes))

    def job(self, limits: Limits, run_all_cells: bool = False) -> Job:
        nested = [name for name, leaves in self.expected.items() if [leaf.path for leaf in leaves] != [""]]
        return Job.for_pack(self.pack, self.cases, limits, nested, run_all_cells)

    def run_files(self, files: Iterable[tuple[str, Path, Sequence[Path]]], limits: Limits, jobs: int | None,
                  run_all_cells: bool = False, on_start: Callable[[str], None] | None = None,
                  server: Server | None = None) -> Iterator[Report]:
        """Run each ``(id, path, siblings)`` in the sandbox (see :meth:`Sandbox.run`), ``jobs`` at a time; yields each
        one's Report (its ``submission`` is the id) as soon as it finishes.
        ``on_start`` is told how workers are isolated, once they can start. ``server``: a fork
        server started earlier, which this closes."""
        with Sandbox(self.job(limits, run_all_cells), jobs or DEFAULT_JOBS, server) as sandbox:
            if on_start:
                on_start(sandbox.isolation)
            for sub_id, run in sandbox.run(files):
                yield self.report(sub_id, run)

    def report(self, name: str, run: RunResult) -> Report:
        pack, n = self.pack, len(self.cases)
        if run.status != "ok":
            targets = tuple(result for t in pack.targets
                            for result in not_run(t, self.cases, self.expected[t.name], run.status, run.message))
        else:
            targets = tuple(result for t in pack.targets
                            for result in compare_target(pack, t, self.cases, self.expected[t.name],
                                                         run.targets[t.name], self.diagnoser))
        return Report(exercise=pack.name, submission=name, status=run.status, targets=targets, message=run.message,
                      seed=self.cases[0].seed, cases=n, hidden_cases=sum(c.hidden for c in self.cases),
                      device=self.device, seconds=run.seconds, output=run.output, notes=run.notes,
                      isolation=run.isolation)


def _torch_ready(pack: Pack) -> Pack:
    if pack.array_library[0] == "torch" and not _torch.installed():
        raise BpgradeError(f"{pack.name}: {TORCH_MISSING}")
    return pack


def _computed(pack: Pack, seed: int | None, device: str | None) -> store.Truths:
    """The truths of a case set, with JAX (imported here alone)."""
    from . import truth

    truth.enable_compilation_cache(keep_users=True)
    return truth.case_set(pack, seed, device)


class _Opened(NamedTuple):
    key: str  # what the process keeps the preparation by
    pack: Pack
    truths: store.Truths | None  # None: to compute when first needed
    stored: dict | None  # the store's key; None for a Pack object, which is never stored


#: What the latest packs and seeds were prepared with in this process, so that a notebook's
#: repeated bpgrade.check costs what the run costs.
_PREPARED: "OrderedDict[str, Prepared]" = OrderedDict()
_KEPT = 8


def _open(exercise: str | Path | Pack, seed: int | None, device: str | None) -> _Opened:
    """The pack, read with the store's truths of it where it has some (then without JAX)."""
    if isinstance(exercise, Pack):
        model = exercise.root / "model.py"
        key = repr((str(exercise.root.resolve()), exercise.digest, model.read_bytes() if model.is_file() else b"",
                    seed, device))
        return _Opened(key, exercise, None, None)
    root = pack_folder(exercise)
    wanted = store.key(root, seed, device)
    key = json.dumps(wanted, sort_keys=True)
    if key in _PREPARED:
        return _Opened(key, _PREPARED[key].pack, None, wanted)
    truths = store.load(wanted)
    return _Opened(key, load_pack(root, truths.facts) if truths else load_pack(root), truths, wanted)


def _prepare(opened: _Opened, seed: int | None, device: str | None) -> Prepared:
    if opened.key not in _PREPARED:
        pack = _torch_ready(opened.pack)
        truths = opened.truths
        if truths is None:
            truths = _computed(pack, seed, device)
            if opened.stored is not None:
                store.save(opened.stored, truths)
        _PREPARED[opened.key] = Prepared.of(pack, truths)
        while len(_PREPARED) > _KEPT:
            _PREPARED.popitem(last=False)
    _PREPARED.move_to_end(opened.key)
    return _PREPARED[opened.key]


def check(exercise: str | Path | Pack, submission: SubmissionArg, *, seed: int | None = None,
          device: str | None = None, timeout: float | None = None, run_all: bool = False,
          max_size: int | None = None) -> Report:
    """Grade a submission on an exercise.

    Args:
      exercise: a shipped pack's name (``"mlp2"``), a pack folder, or a Pack.
      submission: the path of a ``.py`` file or a ``.ipynb`` notebook, run in
        the sandbox (or of a folder holding it and the ``.py`` modules it
        imports, the file chosen as ``bpgrade grade`` chooses a sub-folder's),
        a :class:`~bpgrade.submissions.Submission`, or a dict of
        functions keyed by target (``"w1"``) or function name (``"grad_w1"``),
        called in this process.
      seed: the case set; when None the pack's public cases and its hidden
        ones (reported as counts only), if it declares them.
      device: ``"cpu"``, ``"gpu"`` or ``"tpu"`` for the truth; JAX's default
        backend when None.
      timeout: seconds of wall-clock time for a file submission; the pack's
        when None.
      run_all: a notebook runs every code cell, not only its imports,
        definitions and what the graded functions need (magics and shell
        escapes never run).
      max_size: the most bytes of code a file submission may run (a
        notebook's outputs do not count); 1 MiB when None.

    Returns:
      The :class:`~bpgrade.reports.Report`; ``print`` it for the table.

    Raises:
      BpgradeError: a bad pack, a submission path that is not a ``.py`` or
        ``.ipynb`` file (or a link out of its folder), or a device that is not there.
    """
    # The fork server imports NumPy while the truth is read.
    starting = contextlib.nullcontext() if isinstance(submission, Mapping) else contextlib.closing(forkserver.take())
    with starting as server:
        opened = _open(exercise, seed, device)
        pack = opened.pack
        siblings: tuple[Path, ...] = ()
        if isinstance(submission, Submission):
            # Found by bpgrade itself (bpgrade gradescope's upload): its file and the files beside it.
            if submission.problem:
                raise SubmissionError(submission.problem)
            path, name, siblings = submission.path, submission.id, submission.siblings
        elif isinstance(submission, Mapping):
            if pack.harness is not None:
                raise SubmissionError(f"{pack.name} calls your code the way the course does: give bpgrade.check the "
                                      "path of your file (or notebook) instead of a dict of functions")
            name = "functions"
            _check_keys(pack, submission)
        elif not isinstance(submission, (str, Path)):
            raise SubmissionError(f"expected the path of a file or a dict of functions, got {_kind(submission)}: "
                                  f"bpgrade.check({pack.spec!r}, {{{pack.targets[0].name!r}: "
                                  f"{pack.targets[0].function}}})")
        else:
            path = Path(submission)
            try:
                exists = path.is_file() or path.is_symlink()
            except OSError as e:
                raise SubmissionError(f"{path}: {e.strerror}") from None
            if not exists and not path.is_dir():
                raise SubmissionError(f"{path}: no such file")
            if path.suffix not in SUFFIXES and not path.is_dir() and not (pack.module and path.suffix == ".zip"):
                zip_too = " or a .zip of the assignment" if pack.module else ""
                raise SubmissionError(f"{path}: expected a Python file (.py), a notebook (.ipynb){zip_too}")
            if path.is_dir() and pack.module:
                if not find_root(path, pack.module):
                    raise SubmissionError(f"{path} is a folder without {module_file(pack.module)}: check grades a "
                                          "folder holding it, its .zip, or one .py or .ipynb file")
                # A folder given to check is the submission, wherever in it the package lies.
                found = Submission(clean_name(path.resolve().name), path, module=pack.module)
            elif path.is_dir():
                # Its file (the rule of bpgrade grade's sub-folders) and the modules beside it.
                found = folder_submission(path, pack.submission_names)
            else:
                found = collect([path], pack.module)[0]
            if found.problem:
                raise SubmissionError(found.problem)
            path, name, siblings = found.path, found.id, found.siblings
        setup = _prepare(opened, seed, device)
        job = setup.job(Limits.for_pack(pack, timeout, source=max_size), run_all)
        run = (run_functions(submission, job) if isinstance(submission, Mapping)
               else run_file(path, job, siblings, server))
        return setup.report(name, run)


def graded_code(pack: Pack, submission: Submission) -> dict:
    """What of a submission is compared with others' (:mod:`bpgrade.similarity`), as read: its
    file's text, or a notebook's cells (its exercise cell, for a pack that grades one), with the
    names graded. Normalised only when staff ask (``bpgrade similar``, the class report), not
    while the batch is graded. {} where it cannot be read."""
    try:
        path = submission.path
        if pack.module and is_package(path):
            files = read_package(path, pack.module, DEFAULT_MAX_SOURCE)
            codes = [files.get(module_file(pack.module), "")]
        else:
            text = None if path.suffix == ".ipynb" else read_source(path, DEFAULT_MAX_SOURCE)
            exported = None if text is None else exported_notebook(text)
            codes = [text]
            if text is None or exported:
                program = (read_notebook(path, run_all=True, exercise=pack.exercise_names) if text is None
                           else parse_notebook(exported, run_all=True, exercise=pack.exercise_names))
                if pack.exercise_cell:
                    return {"exercise": [code for _, code in program.exercise.cells]}
                codes = [code for _, code in program.cells]
        return {"codes": codes, "names": list(pack.submission_names)}
    except Exception:  # noqa: BLE001 - a submission's code, whatever it holds, never stops a batch
        return {}


def _check_keys(pack: Pack, functions: Mapping) -> None:
    """Every key of a dict of functions names a target (``"w1"``) or its function (``"grad_w1"``)."""
    known = [t.name for t in pack.targets] + [t.function for t in pack.targets]
    unknown = [key for key in functions if key not in known]
    if unknown:
        raise SubmissionError(f"{', '.join(map(repr, unknown))}: not a target of {pack.name}; the keys are its "
                              f"targets ({', '.join(t.name for t in pack.targets)}) or their functions "
                              f"({', '.join(t.function for t in pack.targets)})")


def _kind(value) -> str:
    return f"the function {value.__name__}" if callable(value) and hasattr(value, "__name__") else \
        f"a {type(value).__name__}"


def grade(exercise: str | Path | Pack | Prepared, submissions: Sequence[Submission], gradebook: Gradebook, *,
          seed: int | None = None, device: str | None = None, jobs: int | None = None,
          timeout: float | None = None, memory: int | None = None, max_size: int | None = None,
          regrade: bool = False, run_all: bool = False, on_progress: Callable[[Progress], None] | None = None,
          on_start: Callable[[str], None] | None = None) -> Progress:
    """Grade a batch of submission files into ``gradebook``.

    ``exercise``: a pack's name or folder, a Pack, or what :meth:`Prepared.make`
    made of one (with ``seed`` and ``device``, which are then not read).
    Submissions already in the gradebook with the same content, pack and seed
    are skipped unless ``regrade``. Each result is committed as soon as it is
    made. ``jobs`` workers run at once (default: two per CPU). ``run_all``:
    notebooks run every code cell (what was graded without it is graded again).
    ``max_size``: the most bytes of code a submission may run (1 MiB when
    None). ``on_start`` is told how workers are isolated, once they can start.
    A submission that cannot be run at all (a link out of its folder) gets an
    error result without running.

    Returns:
      The final :class:`Progress`.
    """
    start = time.monotonic()
    # The fork server imports NumPy while the batch is read.
    with contextlib.closing(forkserver.take()) as server:
        setup = exercise if isinstance(exercise, Prepared) else Prepared.make(exercise, seed, device)
        pack = setup.pack
        seed = setup.cases[0].seed
        # Notebooks graded with and without run_all differ, and files with another size limit: both
        # are part of what was graded.
        graded_with = pack.digest + (":run-all" if run_all else "")
        if max_size not in (None, DEFAULT_MAX_SOURCE):
            graded_with += f":max-size={max_size}"
        done_before = {} if regrade else gradebook.graded(pack.name, seed, graded_with)
        hashes = {s.id: s.content_hash() for s in submissions}
        todo = [s for s in submissions if done_before.get(s.id) != hashes[s.id]]
        skipped = len(submissions) - len(todo)
        progress = Progress(skipped, len(submissions), skipped, time.monotonic() - start)
        if on_progress:
            on_progress(progress)
        if not todo:
            return progress
        by_id = {s.id: s for s in todo}
        refused = (setup.report(s.id, RunResult(s.status, s.problem)) for s in todo if s.problem)
        runnable = [(s.id, s.path, s.siblings) for s in todo if not s.problem]
        ran = setup.run_files(runnable, Limits.for_pack(pack, timeout, memory, max_size), jobs, run_all,
                              on_start, server) if runnable else ()
        for report in itertools.chain(refused, ran):
            sub_id = report.submission
            sub = by_id[sub_id]
            gradebook.record(report, pack_hash=graded_with, content_hash=hashes[sub_id], path=clean_name(str(sub.path)),
                             code=None if sub.problem else graded_code(pack, sub))
            progress = Progress(progress.done + 1, len(submissions), skipped, time.monotonic() - start)
            if on_progress:
                on_progress(progress)
        return progress
