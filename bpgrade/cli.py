"""The ``bpgrade`` command line: a thin layer over the library, and the only module that prints.

Exit codes (``check``): 0 every target passed, 1 something failed, 2 a usage
error or bad input, with a message on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import BpgradeError

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_DESCRIPTION = """\
Check hand-derived backpropagation gradients against jax.grad.

A submission is a Python file that defines the exercise's gradient functions
(grad_w1, grad_b1, ... for mlp2). Start from the template:

  bpgrade list                       the shipped exercises
  bpgrade init mlp2 my_mlp2.py       write the template to fill in
  bpgrade check my_mlp2.py -e mlp2   grade it on the public cases
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"bpgrade: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bpgrade", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"bpgrade {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    check = commands.add_parser(
        "check", help="grade one submission and show which gradients are right",
        description="Grade one submission. Exit code 0: every target passed; 1: something failed; "
                    "2: a usage error or bad input.")
    check.add_argument("submission", metavar="SUBMISSION", help="the submission's .py file")
    check.add_argument("-e", "--exercise", required=True, metavar="EXERCISE",
                       help="a shipped exercise (see 'bpgrade list') or the path of a pack folder")
    check.add_argument("--format", choices=("text", "json"), default="text",
                       help="text: a table to read (default); json: one JSON object")
    check.add_argument("-o", "--output", metavar="FILE", help="write the result to FILE instead of stdout")
    check.add_argument("--seed", type=int, metavar="INT",
                       help="the set of test cases (default: the exercise's public cases)")
    check.add_argument("--device", choices=("cpu", "gpu", "tpu"),
                       help="where jax computes the truth (default: JAX's default backend); "
                            "always float64 at the highest matmul precision")
    check.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                       help="wall-clock limit for the submission (default: the exercise's)")

    commands.add_parser("list", help="list the shipped exercises", description="List the shipped exercises.")

    init = commands.add_parser("init", help="write an exercise's template to fill in",
                               description="Write an exercise's template, the file a student fills in.")
    init.add_argument("exercise", metavar="EXERCISE", help="a shipped exercise or the path of a pack folder")
    init.add_argument("dest", nargs="?", metavar="DEST",
                      help="the file to write, or a folder to write it into (default: ./EXERCISE.py)")
    init.add_argument("--force", action="store_true", help="overwrite DEST if it exists")
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"check": _check, "list": _list, "init": _init}[args.command](args)
    except BpgradeError as e:
        print(f"bpgrade: error: {e}", file=sys.stderr)
        return EXIT_USAGE


def _check(args) -> int:
    from . import truth
    from .grader import check

    truth.enable_compilation_cache()
    report = check(args.exercise, args.submission, seed=args.seed, device=args.device, timeout=args.timeout)
    text = report.to_json() if args.format == "json" else report.to_text()
    _write(text + "\n", args.output)
    return EXIT_PASSED if report.passed else EXIT_FAILED


def _list(args) -> int:
    from .packs import load_pack, shipped_packs

    for name in shipped_packs():
        pack = load_pack(name)
        targets = ", ".join(t.name for t in pack.targets)
        print(f"{pack.name:<12} {pack.title} (targets: {targets}; {pack.max_score:g} points)")
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
    print(f"wrote {dest}: fill in the functions, then run: bpgrade check {dest} -e {args.exercise}")
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
