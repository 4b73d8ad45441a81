"""The ``bpgrade`` command line: a thin layer over the library, and the only module that prints.

Exit codes: ``check``: 0 every target passed, 1 something failed; ``grade``:
0 every submission got a result; both: 2 a usage error or bad input, with a
message on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import __version__
from .errors import BpgradeError
from .exports import FORMATS
from .lms import LMS_FORMATS
from .similarity import DEFAULT_THRESHOLD
from .gradebook import DEFAULT_PATH as DEFAULT_DB
from .gradescope import METADATA_PATH, RESULTS_PATH, SUBMISSION_DIR, VISIBILITIES
from .safetext import clean

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: The docs that --help names, where this bpgrade is installed (a wheel carries them).
DOCS = Path(__file__).resolve().parent / "docs"
_PRINTED_LINES = 20

_DESCRIPTION = """\
Check hand-derived backpropagation gradients against jax.grad.

A submission is a Python file that defines the exercise's gradient functions
(grad_w1, grad_b1, ... for mlp2). Start from the template:

  bpgrade list                       the shipped exercises
  bpgrade show mlp2                  its statement: the network, the equations, what to derive
  bpgrade init mlp2 my_mlp2.py       write the template to fill in
  bpgrade check my_mlp2.py -e mlp2   grade it on the public cases
  bpgrade case mlp2 12               Python code that builds case 12's arguments, to call a function on

Course staff grade a folder of submissions into a gradebook:

  bpgrade grade submissions/ -e mlp2 --seed 31337 --format csv -o grades.csv
  bpgrade grade submissions/ -e mlp2 --format canvas --roster canvas_export.csv -o upload.csv
  bpgrade similar --db gradebook.sqlite   pairs of nearly identical submissions, to look at
  bpgrade prepare -e mlp2            the cases and their truth computed ahead, into the truth store

Course pipelines: a Gradescope autograder, a class report, CI ({docs}/integrations.md):

  bpgrade gradescope-bundle -e mlp2 -o autograder.zip
  bpgrade report --db gradebook.sqlite -o report.html
  bpgrade check my_mlp2.py -e mlp2 --format junit -o report.xml

Instructors write packs of their own:

  bpgrade new my-exercise            a pack that passes its own self-test
  bpgrade selftest -e my-exercise    its reference and wrong solutions graded as declared
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"bpgrade: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bpgrade", description=_DESCRIPTION.format(docs=DOCS),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"bpgrade {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    check = commands.add_parser(
        "check", help="grade one submission and show which gradients are right",
        description="Grade one submission. Exit code 0: every target passed; 1: something failed; "
                    "2: a usage error or bad input.")
    check.add_argument("submission", metavar="SUBMISSION", help="the submission: a .py file or a .ipynb notebook")
    check.add_argument("-e", "--exercise", required=True, metavar="EXERCISE",
                       help="a shipped exercise (see 'bpgrade list') or the path of a pack folder")
    check.add_argument("--format", choices=("text", "json", "junit", "markdown", "gradescope"), default="text",
                       help="text: a table to read (default); json: one JSON object; junit: JUnit XML for CI; "
                            "markdown: for a CI summary ($GITHUB_STEP_SUMMARY); gradescope: its results.json")
    check.add_argument("-o", "--output", metavar="FILE", help="write the result to FILE instead of stdout")
    check.add_argument("--seed", type=int, metavar="INT",
                       help="the set of test cases (default: the exercise's public cases, and its hidden ones "
                            "when it declares them)")
    check.add_argument("--device", choices=("cpu", "gpu", "tpu"),
                       help="where jax computes the truth (default: JAX's default backend); "
                            "always float64 at the highest matmul precision")
    check.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                       help="wall-clock limit for the submission (default: the exercise's)")
    _max_size_option(check)
    _run_all_option(check)

    grade = commands.add_parser(
        "grade", help="grade a batch of submissions into a gradebook",
        description="Grade every submission found in PATH... (files; in folders, every *.py and *.ipynb, and "
                    "every sub-folder: its submission.py, its one .py or .ipynb, or the one that defines the most "
                    "of the exercise's functions, with the .py files beside it importable; a sub-folder with "
                    "nothing to grade gets a no_submission record) into a SQLite "
                    "gradebook, each in its own sandboxed worker, then export the results. Rerunning resumes: "
                    "submissions already graded with the same content, exercise and seed are skipped. Exit code 0 "
                    "when every submission got a result; 2: a usage error or bad input.")
    grade.add_argument("paths", nargs="+", metavar="PATH", help="submission files and folders")
    grade.add_argument("-e", "--exercise", required=True, metavar="EXERCISE",
                       help="a shipped exercise (see 'bpgrade list') or the path of a pack folder")
    grade.add_argument("--jobs", type=_positive_int, metavar="N", help="workers at once (default: two per CPU)")
    grade.add_argument("--seed", type=int, metavar="INT",
                       help="the set of test cases (default: the public cases, and the hidden ones "
                       "when the exercise declares them)")
    grade.add_argument("--db", default=DEFAULT_DB, metavar="FILE",
                       help=f"the gradebook, created if needed (default: {DEFAULT_DB})")
    grade.add_argument("--format", choices=(*FORMATS, *LMS_FORMATS), default="jsonl",
                       help="the export written at the end: jsonl, one JSON record per submission (default); "
                            "csv, a row per submission and a column per target; junit, JUnit XML for CI; "
                            "markdown, a table of submissions; gradescope, each one's results.json by id; canvas, "
                            "moodle, brightspace: the LMS's gradebook import, matched to --roster")
    grade.add_argument("-o", "--output", metavar="FILE", help="write the export to FILE instead of stdout")
    _lms_options(grade)
    grade.add_argument("--feedback-dir", metavar="DIR", help="also write each submission's report, as a student "
                       "sees it with 'bpgrade check' (hidden cases as counts only), to DIR/ID.md and DIR/ID.html, "
                       "for feedback by email or through an LMS")
    grade.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                       help="wall-clock limit per submission (default: the exercise's)")
    grade.add_argument("--memory", type=_positive_int, metavar="MB", help="address-space limit per submission "
                       "(default: 1024)")
    _max_size_option(grade)
    grade.add_argument("--regrade", action="store_true", help="grade again what the gradebook already holds")
    grade.add_argument("--shard", metavar="K/N", help="grade only part K of N (from 1), for spreading a batch "
                       "over machines; combine the gradebooks with 'bpgrade merge'")
    grade.add_argument("--device", choices=("cpu", "gpu", "tpu"), help="where jax computes the truth")
    grade.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    _run_all_option(grade)

    merge = commands.add_parser(
        "merge", help="combine gradebooks (from shards) into one",
        description="Copy the results of every DB into the gradebook --db; where two hold the same submission, "
                    "the later result wins. Then export them all.")
    merge.add_argument("sources", nargs="+", metavar="DB", help="gradebooks to merge in")
    merge.add_argument("--db", required=True, metavar="FILE", help="the gradebook to merge into (created if needed)")
    merge.add_argument("--format", choices=(*FORMATS, *LMS_FORMATS), default="jsonl",
                       help="the export (default: jsonl; see 'bpgrade grade --help')")
    merge.add_argument("-o", "--output", metavar="FILE", help="write the export to FILE instead of stdout")
    _lms_options(merge)

    similar = commands.add_parser(
        "similar", help="list pairs of submissions whose code is nearly the same",
        description="List the pairs of submissions in a gradebook whose graded functions are nearly the same code "
                    "once comments, docstrings, layout and names are set aside (functions compared by name, "
                    "wherever they lie; helpers by the order they are called in), with a similarity figure and "
                    "the lines they share. For staff to look at: similar code is not proof of copying.")
    similar.add_argument("--db", default=DEFAULT_DB, metavar="FILE", help=f"the gradebook (default: {DEFAULT_DB})")
    similar.add_argument("-e", "--exercise", metavar="EXERCISE", help="only this exercise's submissions")
    similar.add_argument("--seed", type=int, metavar="INT", help="only the results of this case set")
    similar.add_argument("--threshold", type=_fraction, default=DEFAULT_THRESHOLD, metavar="F",
                         help=f"the least similarity listed, from 0 to 1 (default: {DEFAULT_THRESHOLD})")
    similar.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or JSON")
    similar.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")

    report = commands.add_parser(
        "report", help="write the class report: one HTML page of a gradebook's results",
        description="Write one self-contained HTML page (inline SVG charts, no network needed to view it) of the "
                    "results in a gradebook: per exercise and case set, the score distribution, the pass rate per "
                    "target, the most common diagnoses per target, the slowest and the failing submissions.")
    report.add_argument("--db", default=DEFAULT_DB, metavar="FILE", help=f"the gradebook (default: {DEFAULT_DB})")
    report.add_argument("-o", "--output", default="report.html", metavar="FILE",
                        help="the page to write (default: report.html)")
    report.add_argument("-e", "--exercise", metavar="EXERCISE", help="only this exercise's results (its name)")
    report.add_argument("--seed", type=int, metavar="INT", help="only the results of this case set")

    gradescope = commands.add_parser(
        "gradescope", help="grade a Gradescope submission: the whole of run_autograder",
        description="Grade the file a student uploaded to Gradescope and write results.json in Gradescope's "
                    "schema (a test per target). A submission that is missing or crashes still gets a valid "
                    "results.json. Exit code 0 when it is written with a grade; 2 when the autograder itself is "
                    "broken (a bad pack), after writing a results.json that says so.")
    _gradescope_options(gradescope)
    gradescope.add_argument("--submission-dir", default=SUBMISSION_DIR, metavar="DIR",
                            help=f"where the student's files are (default: {SUBMISSION_DIR})")
    gradescope.add_argument("--results", default=RESULTS_PATH, metavar="FILE",
                            help=f"the results.json to write (default: {RESULTS_PATH})")
    gradescope.add_argument("--device", choices=("cpu", "gpu", "tpu"), help="where jax computes the truth")
    gradescope.add_argument("--metadata", default=METADATA_PATH, metavar="FILE",
                            help=f"Gradescope's submission metadata, for --max-per-day (default: {METADATA_PATH})")

    bundle = commands.add_parser(
        "gradescope-bundle", help="write the autograder zip to upload to Gradescope",
        description="Write the zip that Gradescope's 'Configure Autograder' page takes: setup.sh (installs "
                    "bpgrade, bundled, and its dependencies pinned to the versions installed here, then self-tests "
                    "the pack), run_autograder (runs 'bpgrade gradescope') and the pack.")
    _gradescope_options(bundle)
    bundle.add_argument("-o", "--output", default="autograder.zip", metavar="FILE",
                        help="the zip to write (default: autograder.zip)")
    bundle.add_argument("--hidden-seed", type=int, metavar="N",
                        help="grade a second, secret case set drawn from seed N (set in the bundle's copy of the "
                             "pack; students see only its counts)")

    prepare = commands.add_parser(
        "prepare", help="compute a case set's truth into the truth store, for runs without JAX",
        description="Compute the cases of an exercise, the true gradients and the mistake models' gradients with "
                    "JAX, and keep them in the truth store ($BPGRADE_STORE_DIR, else ~/.cache/bpgrade/truth), "
                    "where check, grade and gradescope read them without importing JAX. They do this "
                    "themselves on their first run of a case set; this does it ahead (a Gradescope image, a CI "
                    "cache). Exit code 0, or 1 when the store is off or cannot be written.")
    prepare.add_argument("-e", "--exercise", required=True, help="a shipped exercise or the path of a pack folder")
    prepare.add_argument("--seed", type=int, default=None,
                         help="the case set (default: the pack's public cases and its hidden ones)")
    prepare.add_argument("--device", choices=("cpu", "gpu", "tpu"), help="where jax computes the truth")

    selftest = commands.add_parser(
        "selftest", help="check that packs grade their own solutions right",
        description="Grade each pack's reference solution (selftest/reference.py: it must pass every target) and "
                    "its wrong solutions (selftest/*.py: each must fail exactly the targets its FAILS list "
                    "declares) on several seeds, each in the sandbox. Exit code 0 when all hold, 1 when one does "
                    "not, 2 for a bad pack.")
    selftest.add_argument("-e", "--exercise", action="append", metavar="EXERCISE",
                          help="a shipped exercise or the path of a pack folder; repeat for several "
                               "(default: every shipped exercise)")
    selftest.add_argument("--seeds", type=_seeds, default=None, metavar="S,S,...",
                          help="the case sets, 'public' for the public one (default: public,1,2)")
    selftest.add_argument("--device", choices=("cpu", "gpu", "tpu"), help="where jax computes the truth")

    new = commands.add_parser(
        "new", help="start a new exercise pack",
        description="Write a new pack folder NAME (exercise.yaml, model.py, template.py, README.md and a "
                    "self-test) that passes 'bpgrade selftest -e DIR/NAME' as it is; edit it from there "
                    f"({DOCS}/authoring.md).")
    new.add_argument("name", metavar="NAME", help="the pack's name: letters, digits, _ and -")
    new.add_argument("--dir", default=".", metavar="DIR", help="the folder to create it in (default: .)")
    new.add_argument("--harness", action="store_true",
                     help="a pack that grades a course's own interface (forward returns a cache, backward takes "
                          "the upstream gradient), called by a harness.py")

    commands.add_parser("list", help="list the shipped exercises", description="List the shipped exercises.")

    show = commands.add_parser("show", help="print an exercise's statement: its equations and what to derive",
                               description="Print the statement of an exercise (its README.md), which the "
                                           "diagnoses point to.")
    show.add_argument("exercise", metavar="EXERCISE", help="a shipped exercise or the path of a pack folder")

    case = commands.add_parser(
        "case", help="print Python code that builds a public case's arguments",
        description="Print Python code that builds the arguments of public case N exactly as bpgrade passes "
                    "them (float64 values that read back bit for bit), to paste and call a function on, as a "
                    "diagnosis suggests. Hidden cases are never shown.")
    case.add_argument("exercise", metavar="EXERCISE", help="a shipped exercise or the path of a pack folder")
    case.add_argument("number", type=int, metavar="N", help="the case's number, as the report names it")
    case.add_argument("--seed", type=int, metavar="INT", help="the case set (default: the public cases)")

    init = commands.add_parser("init", help="write an exercise's template to fill in",
                               description="Write an exercise's template, the file a student fills in.")
    init.add_argument("exercise", metavar="EXERCISE", help="a shipped exercise or the path of a pack folder")
    init.add_argument("dest", nargs="?", metavar="DEST",
                      help="the file to write, or a folder to write it into (default: ./EXERCISE.py)")
    init.add_argument("--force", action="store_true", help="overwrite DEST if it exists")
    return parser


def _gradescope_options(parser: argparse.ArgumentParser) -> None:
    """The options of a Gradescope run, which gradescope-bundle bakes into run_autograder."""
    parser.add_argument("-e", "--exercise", required=True, metavar="EXERCISE",
                        help="a shipped exercise or the path of a pack folder")
    parser.add_argument("--seed", type=int, metavar="INT", help="the case set every submission is graded on "
                        "(default: the public cases, and the pack's hidden ones)")
    parser.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                        help="wall-clock limit per submission (default: the exercise's)")
    parser.add_argument("--visibility", choices=VISIBILITIES, default="visible",
                        help="when students see their results (default: visible)")
    parser.add_argument("--max-per-day", type=_positive_int, metavar="N",
                        help="feedback for N submissions in any 24 hours (counted from Gradescope's "
                             "submission_metadata.json, runs where the autograder failed not counted); past them a "
                             "submission is still graded, its tests shown after the due date")
    _max_size_option(parser)
    _run_all_option(parser)


def _lms_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--roster", metavar="FILE", help="for --format canvas|moodle|brightspace: the LMS's "
                        "gradebook export (CSV), whose students the submissions are matched to by login, user id, "
                        "e-mail or name")
    parser.add_argument("--assignment", metavar="NAME", help="the LMS's grade column (default: the exercise's "
                        "name); Canvas's own column of that name is used where the roster has it")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def _max_size_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-size", type=_positive_mib, metavar="MB",
                        help="the most code a submission may run, in MiB (default: 1); a larger file is refused with a "
                             "message; a notebook's outputs do not count")


def _run_all_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-all", action="store_true",
                        help="a notebook runs every code cell, not only its imports, definitions and what the "
                             "graded functions need (magics, shell escapes and cells tagged skip-grading never "
                             "run)")


def _positive(convert, what: str):
    """An argparse type: ``convert`` the text and insist on a value above 0."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {what}, got {text!r}")
        return value
    return parse


_positive_int = _positive(int, "whole number")


def _seeds(text: str) -> list[int | None]:
    try:
        return [None if s.strip() == "public" else int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds separated by commas, got {text!r}") from None
_positive_float = _positive(float, "number of seconds")


def _positive_mib(text: str) -> int:
    """``--max-size``: MiB, fractions allowed, as bytes."""
    return max(1, int(_positive(float, "number of MiB")(text) * (1 << 20)))


def main(argv: list[str] | None = None) -> int:
    from .forkserver import SandboxError, close_spare

    try:
        return _main(argv)
    except SandboxError as e:
        print(f"bpgrade: error: {clean(str(e))}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        close_spare()


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    share_accelerator()
    try:
        return {"check": _check, "grade": _grade, "merge": _merge, "report": _report, "gradescope": _gradescope,
                "gradescope-bundle": _gradescope_bundle, "prepare": _prepare, "selftest": _selftest, "new": _new,
                "similar": _similar, "list": _list, "init": _init, "show": _show, "case": _case}[args.command](args)
    except BpgradeError as e:
        print(f"bpgrade: error: {clean(str(e))}", file=sys.stderr)
        return EXIT_USAGE


def share_accelerator() -> None:
    """Take accelerator memory as the truth needs it, not JAX's 75% up front.

    The truth of a pack needs megabytes; a grader shares its GPU with the
    course's other jobs, or with a second bpgrade, which JAX's preallocation
    would leave out of memory. Must run before JAX first touches a device; an
    ``XLA_PYTHON_CLIENT_PREALLOCATE`` already set is kept. This sets the
    process's environment, so only the command line calls it.
    """
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def _check(args) -> int:
    from .grader import check

    report = check(args.exercise, args.submission, seed=args.seed, device=args.device, timeout=args.timeout,
                   run_all=args.run_all, max_size=args.max_size)
    if args.format == "junit":
        from .exports import to_junit

        _write(to_junit([report]), args.output)
    elif args.format == "gradescope":
        from .gradescope import results

        _write(json.dumps(results(report), indent=1) + "\n", args.output)
    elif args.format == "markdown":
        _write(report.to_markdown(), args.output)
    else:
        _write((report.to_json() if args.format == "json" else report.to_text()) + "\n", args.output)
    if args.format == "text" and report.output:
        # stderr, never stdout: nothing a submission prints reaches the grader's output.
        printed = "\n".join("  | " + line for line in report.output.splitlines()[:_PRINTED_LINES])
        print(f"the submission printed (first {_PRINTED_LINES} lines at most):\n{printed}", file=sys.stderr)
    return EXIT_PASSED if report.passed else EXIT_FAILED


def _grade(args) -> int:
    from . import gradebook
    from .grader import Prepared, grade
    from .sandbox import DEFAULT_JOBS
    from .submissions import collect, parse_shard, shard

    roster = _roster(args)
    prepared = Prepared.make(args.exercise, args.seed, args.device)
    pack = prepared.pack
    submissions = collect(args.paths, pack.module, pack.submission_names)
    if args.shard:
        submissions = shard(submissions, *parse_shard(args.shard))
    jobs = args.jobs or DEFAULT_JOBS
    progress = None if args.quiet else _ProgressLine(sys.stderr)
    if progress:
        progress.say(f"grading {len(submissions)} submissions of {pack.name} into {args.db}, {jobs} at a time")
    with gradebook.Gradebook(args.db) as book:
        final = grade(prepared, submissions, book, seed=args.seed, device=args.device, jobs=jobs,
                      timeout=args.timeout, memory=args.memory and args.memory << 20, max_size=args.max_size,
                      regrade=args.regrade, run_all=args.run_all, on_progress=progress and progress.update,
                      on_start=progress and (lambda isolation: progress.say(f"workers: {isolation}")))
        reports = book.reports(pack.name, pack.cases.public_seed if args.seed is None else args.seed,
                               [s.id for s in submissions])
    if progress:
        progress.finish(final)
    if args.feedback_dir:
        _write_feedback(reports, Path(args.feedback_dir))
    _export(reports, args, roster)
    return EXIT_PASSED


def _roster(args) -> list | None:
    """The roster an LMS format needs, read before any work (a usage error without it)."""
    from .lms import LMS_FORMATS, read_roster

    if args.format not in LMS_FORMATS:
        if args.roster or args.assignment:
            raise BpgradeError("--roster and --assignment go with --format canvas, moodle or brightspace")
        return None
    if not args.roster:
        raise BpgradeError(f"--format {args.format} needs --roster FILE: the LMS's gradebook export, whose students "
                           "the submissions are matched to")
    return read_roster(args.roster)


def _export(reports, args, roster: list | None) -> None:
    """The export of ``--format`` to ``-o`` or stdout; for an LMS, with what could not be matched on stderr."""
    from .exports import export
    from .lms import lms_file

    if roster is None:
        _write(export(reports, args.format), args.output)
        return
    made = lms_file(reports, args.format, roster, args.assignment)
    _write(made.text, args.output)
    for line in made.unmatched:
        print(f"bpgrade: not in the {args.format} file: submission {clean(line)}", file=sys.stderr)
    for line in made.missing:
        print(f"bpgrade: no submission from {clean(line)}", file=sys.stderr)


def _write_feedback(reports, folder: Path) -> None:
    from .exports import feedback_files

    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in feedback_files(reports).items():
            (folder / name).write_text(text, encoding="utf-8")
    except OSError as e:
        raise BpgradeError(f"cannot write feedback into {folder}: {e.strerror}") from None


def _merge(args) -> int:
    from . import gradebook

    for source in args.sources:  # before --db is created
        if not Path(source).is_file():
            raise BpgradeError(f"{source}: no such gradebook")
    roster = _roster(args)
    with gradebook.Gradebook(args.db) as book:
        for source in args.sources:
            copied = book.merge(source)
            print(f"bpgrade: merged {copied} results from {source}", file=sys.stderr)
        reports = book.reports()
    _export(reports, args, roster)
    return EXIT_PASSED


def _similar(args) -> int:
    from . import gradebook, similarity

    if not Path(args.db).is_file():
        raise BpgradeError(f"{args.db}: no such gradebook (make one with 'bpgrade grade')")
    with gradebook.Gradebook(args.db) as book:
        pairs = _similar_pairs(book.code(args.exercise, args.seed), args.threshold)
    text = (similarity.to_json if args.format == "json" else similarity.to_text)(pairs, args.threshold)
    _write(text, args.output)
    return EXIT_PASSED


def _similar_pairs(code: dict, threshold: float = DEFAULT_THRESHOLD) -> list:
    """The similar pairs of a gradebook's code (``Gradebook.code``), per exercise: a submission graded
    on several seeds has the same code in each, and is compared once."""
    from .similarity import normalised, similar_pairs

    by_exercise: dict[str, dict] = {}
    for (exercise, _), subs in code.items():
        by_exercise.setdefault(exercise, {}).update(subs)
    by_exercise = {exercise: {sub: normalised(graded) for sub, graded in subs.items()}
                   for exercise, subs in by_exercise.items()}
    return [pair for exercise in sorted(by_exercise) for pair in similar_pairs(by_exercise[exercise], threshold)]


def _report(args) -> int:
    from . import gradebook
    from .classreport import class_report

    if not Path(args.db).is_file():
        raise BpgradeError(f"{args.db}: no such gradebook (make one with 'bpgrade grade')")
    with gradebook.Gradebook(args.db) as book:
        reports = book.reports(args.exercise, args.seed)
        code = book.code(args.exercise, args.seed)
    if not reports:
        raise BpgradeError(f"{args.db} holds no results" + (" for that exercise and seed"
                                                            if args.exercise or args.seed is not None else ""))
    generated = f"From {args.db}, {time.strftime('%Y-%m-%d %H:%M')}: {len(reports)} results."
    _write(class_report(reports, generated=generated, similar=_similar_pairs(code)), args.output)
    print(f"bpgrade: wrote {args.output} ({len(reports)} results)", file=sys.stderr)
    return EXIT_PASSED


def _gradescope(args) -> int:
    from . import gradescope
    from .sandbox import SandboxError

    start = time.monotonic()
    code = EXIT_PASSED
    try:
        data = gradescope.autograde(args.exercise, args.submission_dir, seed=args.seed, device=args.device,
                                    timeout=args.timeout, visibility=args.visibility, run_all=args.run_all,
                                    max_size=args.max_size)
    except (BpgradeError, SandboxError) as e:
        print(f"bpgrade: error: {clean(str(e))}", file=sys.stderr)
        data, code = _autograder_failed(args, f"The autograder failed ({e}); tell the course staff.", start)
    except Exception as e:
        # Whatever went wrong, Gradescope gets a results.json; the traceback goes to
        # its stdout, which only the staff see.
        import traceback

        traceback.print_exc()
        data, code = _autograder_failed(args, f"The autograder failed ({type(e).__name__}); tell the course staff.",
                                        start)
    if args.max_per_day and code == EXIT_PASSED:
        data, warning = gradescope.daily_limit(data, args.max_per_day, args.metadata)
        if warning:
            print(f"bpgrade: warning: {clean(warning)}", file=sys.stderr)
    path = Path(args.results)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BpgradeError(f"cannot write {path}: {e.strerror}") from None
    _write(json.dumps(data, indent=1) + "\n", str(path))
    print(f"bpgrade: wrote {path}: score {data['score']:g}", file=sys.stderr)
    return code


def _autograder_failed(args, message: str, start: float) -> tuple[dict, int]:
    from .gradescope import crash_results
    from .packs import load_pack

    try:
        pack = load_pack(args.exercise)
    except BpgradeError:
        pack = None
    return crash_results(pack, message, time.monotonic() - start, visibility=args.visibility,
                         autograder_error=True), EXIT_USAGE


def _gradescope_bundle(args) -> int:
    from .gradescope import bundle, bundle_warnings
    from .packs import load_pack

    pack = load_pack(args.exercise)
    for warning in bundle_warnings(pack, args.seed, args.hidden_seed):
        print(f"bpgrade: warning: {warning}", file=sys.stderr)
    names = bundle(pack, args.output, seed=args.seed, timeout=args.timeout, visibility=args.visibility,
                   run_all=args.run_all, max_size=args.max_size, max_per_day=args.max_per_day,
                   hidden_seed=args.hidden_seed)
    print(f"wrote {args.output} ({len(names)} files): upload it on the assignment's 'Configure Autograder' page "
          f"({DOCS}/integrations.md)")
    return EXIT_PASSED


class _ProgressLine:
    """Progress of a batch on stderr: rewritten in place on a terminal, a line every few seconds elsewhere."""

    def __init__(self, stream):
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0

    def say(self, text: str) -> None:
        print(f"bpgrade: {text}", file=self.stream, flush=True)

    def update(self, p) -> None:
        now = time.monotonic()
        graded = p.done - p.skipped
        if not graded or (p.done < p.total and now - self.last < (0.1 if self.tty else 5.0)):
            return
        self.last = now
        rate = graded / p.elapsed
        line = f"{p.done}/{p.total} done ({p.skipped} skipped), {rate:.0f}/s, {(p.total - p.done) / rate:.1f} s left"
        if self.tty:
            self.stream.write(f"\r\033[K{line}")
            self.stream.flush()
        else:
            self.say(line)

    def finish(self, p) -> None:
        if self.tty:
            self.stream.write("\n")
        graded = p.done - p.skipped
        self.say(f"graded {graded} and skipped {p.skipped} already graded in {p.elapsed:.1f} s"
                 + (f" ({graded / p.elapsed:.0f}/s)" if graded and p.elapsed > 0 else ""))


def _prepare(args) -> int:
    from . import store
    from .grader import Prepared
    from .packs import pack_folder

    place = store.folder()
    if place is None:
        why = "off (BPGRADE_STORE_DIR is empty)" if os.environ.get("BPGRADE_STORE_DIR") == "" else \
            "not usable (a folder of another user, a link, or one that cannot be created)"
        print(f"bpgrade: the truth store is {why}: nothing to prepare", file=sys.stderr)
        return EXIT_FAILED
    wanted = store.key(pack_folder(args.exercise), args.seed, args.device)
    held = store.load(wanted) is not None
    prepared = Prepared.make(args.exercise, args.seed, args.device)
    what = (f"{prepared.pack.name}, case set seed {prepared.cases[0].seed}: {len(prepared.cases)} cases, "
            f"{len(prepared.pack.mistakes)} mistake models, computed on {prepared.device}")
    if store.load(wanted) is None:
        print(f"bpgrade: {what}, but {place} could not keep it", file=sys.stderr)
        return EXIT_FAILED
    print(f"{'already stored' if held else 'stored'} in {place}: {what}")
    return EXIT_PASSED


def _selftest(args) -> int:
    from . import selftest, truth
    from .packs import load_pack, shipped_packs

    truth.enable_compilation_cache()
    packs = [load_pack(e) for e in args.exercise or shipped_packs()]
    seeds = args.seeds or selftest.DEFAULT_SEEDS
    wrong = total = 0
    start = time.monotonic()
    for pack in packs:
        for outcome in selftest.run(pack, seeds, device=args.device):
            total += 1
            wrong += not outcome.ok
            print(("ok    " if outcome.ok else "WRONG ") + outcome.describe(), flush=True)
    print(f"selftest: {total - wrong} of {total} held ({len(packs)} packs, {len(seeds)} seeds, "
          f"{time.monotonic() - start:.1f} s)")
    return EXIT_PASSED if not wrong else EXIT_FAILED


def _new(args) -> int:
    from .scaffold import new_pack

    folder = new_pack(args.name, Path(args.dir), args.harness)
    print(f"wrote {folder}: check it with 'bpgrade selftest -e {folder}', then edit it ({DOCS}/authoring.md)")
    return EXIT_PASSED


def _list(args) -> int:
    from .packs import load_pack, shipped_packs

    for name in shipped_packs():
        pack = load_pack(name)
        targets = ", ".join(t.name for t in pack.targets)
        print(f"{pack.name:<12} {pack.title} (targets: {targets}; {pack.max_score:g} points)")
    return EXIT_PASSED


def _show(args) -> int:
    from .packs import load_pack

    pack = load_pack(args.exercise)
    sys.stdout.write(pack.readme.read_text(encoding="utf-8"))
    return EXIT_PASSED


def _case(args) -> int:
    from .cases import case_source, generate_cases
    from .packs import load_pack

    pack = load_pack(args.exercise)
    cases = generate_cases(pack, args.seed)
    if not 0 <= args.number < len(cases):
        public = sum(not c.hidden for c in cases)
        raise BpgradeError(f"{pack.name} has cases 0 to {public - 1}" + (f" (seed {args.seed})" if args.seed is not None
                                                                        else "") + f", not {args.number}")
    sys.stdout.write(case_source(pack, cases[args.number]))
    return EXIT_PASSED


def _init(args) -> int:
    from .packs import load_pack

    pack = load_pack(args.exercise)
    dest = Path(args.dest or f"{pack.name}.py")
    if dest.is_dir():
        dest = dest / f"{pack.name}.py"
    if dest.exists() and not args.force:
        raise BpgradeError(f"{dest} already exists (use --force to overwrite it)")
    try:
        dest.write_text(pack.template.read_text(encoding="utf-8"), encoding="utf-8")
    except OSError as e:
        raise BpgradeError(f"cannot write {dest}: {e.strerror}") from None
    if pack.module:
        # A package pack grades the assignment folder, where this file has its place.
        from .packages import module_file

        print(f"wrote {dest}: it is {module_file(pack.module)} of your assignment folder; fill it in there, then "
              f"run: bpgrade check ASSIGNMENT_FOLDER -e {args.exercise}")
    else:
        print(f"wrote {dest}: fill in the functions, then run: bpgrade check {dest} -e {args.exercise}")
    print(f"the statement, with its equations: bpgrade show {args.exercise} (or {pack.readme})")
    return EXIT_PASSED


def _write(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as e:
        raise BpgradeError(f"cannot write {output}: {e.strerror}") from None


if __name__ == "__main__":
    sys.exit(main())
