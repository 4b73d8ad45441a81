"""A notebook's exercise as a cell of statements (makemore part 4's exercise 1): found by what it
assigns, run by the pack's harness on each case over the globals it sets, each name graded alone."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bpgrade.gradebook import Gradebook
from bpgrade.grader import grade
from bpgrade.notebooks import parse_notebook
from bpgrade.cases import Case, case_source
from bpgrade.errors import PackError
from bpgrade.packs import load_pack
from bpgrade.submissions import collect

NOTEBOOK = Path(__file__).parent / "submissions" / "courses" / "makemore_part4_backprop.ipynb"
TEMPLATE = Path(__file__).parent.parent / "exercises" / "makemore-backprop" / "template.py"
EXERCISE_CELL = 13  # of the notebook above, counting markdown cells


def notebook(*cells: str) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                  "source": cell} for cell in cells]})


# The reader alone: which cells are the exercise, and what of the others runs.

def read(*cells: str, exercise=("dlogits", "dh", "dW2", "db2")):
    return parse_notebook(notebook(*cells), provided=("logits", "h", "W2", "n", "loss", "cmp"), exercise=exercise)


def test_the_cell_that_assigns_the_most_is_the_exercise_and_not_run_at_import():
    program = read("import torch\nn = 32\nlogits = torch.randn(n, 5)\nloss = logits.sum()\nloss.backward()",
                   "dlogits = torch.ones_like(logits) / n\ndh = dlogits @ W2.T\n"
                   "dW2 = h.T @ dlogits\ndb2 = dlogits.sum(0)",
                   "loss_fast = logits.logsumexp(1).mean()", "dlogits = logits.softmax(1)")
    assert [number for number, _ in program.exercise.cells] == [2]
    assert program.exercise.assigns == ("dlogits", "dh", "dW2", "db2")
    ran = "\n".join(code for _, code in program.cells)
    # The forward cell computes what the harness provides; exercise 2's dlogits is not needed at import.
    assert "backward" not in ran and "softmax" not in ran and "import torch" in ran
    assert any("cell 2: the exercise" in note for note in program.notes)


def test_an_exercise_split_over_cells_with_checks_between_is_one():
    program = read("dlogits = logits / n\ndh = dlogits @ W2.T", "cmp('logits', dlogits, logits)",
                   "dW2 = h.T @ dlogits\ndb2 = dlogits.sum(0)", "loss_fast = 1.0", "dlogits = 0")
    assert [number for number, _ in program.exercise.cells] == [1, 3]


def test_a_cell_per_step_with_helper_names_is_still_one_exercise():
    program = read("dlogits = logits / n", "top = logits.argmax(1)\ndlogits[range(n), top] += 0\n",
                   "cmp('l', dlogits, logits)", "dh = dlogits @ W2.T", "dW2 = h.T @ dlogits\ndb2 = dlogits.sum(0)")
    assert [number for number, _ in program.exercise.cells] == [1, 2, 4, 5]


def test_of_two_equal_attempts_the_later_is_the_exercise():
    program = read("dlogits = 1\ndh = 2\ndW2 = 3\ndb2 = 4", "x = 0", "dlogits = 5\ndh = 6\ndW2 = 7\ndb2 = 8")
    assert [number for number, _ in program.exercise.cells] == [3]


def test_what_the_exercise_reads_from_other_cells_runs_and_statements_sharing_a_line_are_one_step():
    program = read("def helper(t):\n    return t * 2\nscale = 3\nunused = 4",
                   "dlogits = helper(logits) * scale; dh = dlogits @ W2.T\ndW2 = h.T @ dlogits\ndb2 = 0")
    ran = "\n".join(code for _, code in program.cells)
    assert "scale = 3" in ran and "unused" not in ran
    assert [step[1:] for step in program.exercise.steps] == [(1, 1, ("dh", "dlogits")), (2, 2, ("dW2",)),
                                                             (3, 3, ("db2",))]


def test_what_the_exercise_reads_that_is_computed_from_the_harness_values_runs_with_it():
    # At import, n and logits are not set yet: `B = n` runs before the exercise, on each case.
    program = read("import torch\nB = n; V = logits.shape[1]\nscale = 2\nK = V * scale",
                   "dlogits = logits / B * K\ndh = dlogits @ W2.T\ndW2 = h.T @ dlogits\ndb2 = 0")
    ran = "\n".join(code for _, code in program.cells)
    assert "B = n" not in ran and "K = V" not in ran and "scale = 2" in ran
    assert [step[:3] for step in program.exercise.steps[:2]] == [(1, 2, 2), (1, 4, 4)]
    assert "computed from them before it: cell 1, line 2, cell 1, line 4" in "\n".join(program.notes)
    assert not any("left out" in note for note in program.notes)


def test_a_notebook_without_the_exercise_says_so():
    program = read("x = 1")
    assert program.exercise.cells == () and "the exercise was not found" in program.notes[0]


# The makemore-backprop pack, through the sandbox: one batch.

def replaced(old: str, new: str) -> str:
    text = NOTEBOOK.read_text()
    assert json.dumps(old)[1:-1] in text, old
    return text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1])


def split() -> str:
    data = json.loads(NOTEBOOK.read_text())
    cell = data["cells"][EXERCISE_CELL - 1]
    first, _, rest = "".join(cell["source"]).partition("dh = dlogits @ W2.T\n")
    data["cells"][EXERCISE_CELL - 1:EXERCISE_CELL] = [
        {**cell, "source": first}, {**cell, "source": "cmp('logits', dlogits, logits)"},
        {**cell, "source": "dh = dlogits @ W2.T\n" + rest}]
    return json.dumps(data)


def attempted_twice() -> str:
    data = json.loads(NOTEBOOK.read_text())
    cell = data["cells"][EXERCISE_CELL - 1]
    wrong = "".join(cell["source"]).replace("dhpreact = dh * (1 - h**2)", "dhpreact = dh * (1 - hpreact**2)")
    data["cells"].insert(EXERCISE_CELL - 1, {**cell, "source": wrong})
    return json.dumps(data)


def shorthand() -> str:
    # A cell of the student's own computes B from the batch: it runs with the exercise, on each case.
    data = json.loads(replaced("dlogprobs[range(n), Yb] = -1.0 / n", "dlogprobs[range(B), Yb] = -1.0 / B"))
    cell = data["cells"][EXERCISE_CELL - 1]
    data["cells"].insert(EXERCISE_CELL - 1, {**cell, "source": "B = batch_size  # shorter\nprint(B)"})
    return json.dumps(data)


def percent() -> str:
    # The notebook kept as a .py in the percent format of VS Code and jupytext: `# %%` per cell.
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return "".join(("# %%\n" if c["cell_type"] == "code" else "# %% [markdown]\n") + "".join(c["source"]) + "\n"
                   for c in cells)


BATCH = {
    "as_written.ipynb": lambda: NOTEBOOK.read_text(),
    # An error halfway: what the cell computed before it is graded, the rest shows the error.
    "stops.ipynb": lambda: replaced("dbnvar = dbnvar_inv * -0.5 * (bnvar + 1e-5)**-1.5",
                                    "dbnvar = dbnvar_inv * -0.5 * (bnvar + 1e-5)**-1.5 * not_defined"),
    "autograd.ipynb": lambda: replaced("dlogprobs = torch.zeros((n, vocab_size))",
                                       "loss.backward()\ndlogprobs = torch.zeros((n, vocab_size))"),
    "split.ipynb": split,
    "attempted_twice.ipynb": attempted_twice,
    "shorthand.ipynb": shorthand,
    "percent.py": percent,
    "template.py": lambda: TEMPLATE.read_text(),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("makemore")
    for name, make in BATCH.items():
        (folder / name).write_text(make())
    with Gradebook(folder / "book.db") as book:
        # The public cases only (no hidden set): half the truth programs to compile.
        grade("makemore-backprop", collect([folder]), book, seed=0)
        return {r.submission: r for r in book.reports()}


def by_name(report):
    return {r.name: r for r in report.targets}


def test_the_notebook_is_graded_as_submitted(graded):
    report = graded["as_written"]
    assert report.status == "ok" and report.score == report.max_score == 26, report
    notes = "\n".join(report.notes)
    # names.txt, the parameters and the forward pass with loss.backward() were left out, not run.
    assert "left out `words = open('names.txt', 'r')" in notes and f"cell {EXERCISE_CELL}: the exercise" in notes
    assert "`emb = C[Xb]` (line 3)" in notes
    # Its dbnmeani has the shape (n_hidden,), its dlogprobs is float32: both right here.
    assert "taken as" in by_name(report)["bnmeani"].message


def test_a_cell_that_stops_halfway_keeps_what_it_computed(graded):
    targets = by_name(graded["stops"])
    reached = ["logprobs", "probs", "counts", "logits", "h", "W2", "hpreact", "bngain", "bnraw", "bnvar_inv"]
    assert all(targets[name].passed for name in reached)
    after = ["bnvar", "bndiff2", "bndiff", "bnmeani", "hprebn", "embcat", "W1", "b1", "emb", "C"]
    for name in after:
        assert not targets[name].passed and targets[name].diagnosis.code == "error", name
        assert "NameError: name 'not_defined' is not defined" in targets[name].message
        assert f"cell {EXERCISE_CELL}, line 26" in targets[name].message
    assert graded["stops"].score == 16


def test_autograd_in_the_exercise_cell_is_forbidden(graded):
    report = graded["autograd"]
    assert report.status == "forbidden" and "Tensor.backward" in report.message


def test_split_cells_a_second_attempt_a_shorthand_and_the_percent_format_are_graded_as_run_all_leaves_them(graded):
    assert graded["split"].score == 26, graded["split"]
    assert graded["attempted_twice"].score == 26, graded["attempted_twice"]
    assert graded["shorthand"].score == 26, graded["shorthand"]
    assert graded["percent"].score == 26, graded["percent"]
    assert any(f"cell {EXERCISE_CELL}: the exercise" in note for note in graded["percent"].notes)


def test_the_untouched_template_says_what_to_compute(graded):
    report = graded["template"]
    assert report.score == 0 and any("the exercise was not found" in note for note in report.notes)
    logprobs = by_name(report)["logprobs"]
    assert logprobs.diagnosis.code == "missing" and "Compute dlogprobs in the exercise's cell" in \
        logprobs.diagnosis.text


def test_the_pack_reads_the_exercise_names_from_its_targets():
    pack = load_pack("makemore-backprop")
    assert len(pack.exercise_names) == 26 and pack.exercise_names[0] == "dlogprobs"
    assert {"n", "cmp", "logits", "Xb"} <= set(pack.harness_provides)


@pytest.mark.parametrize("old, new, where", [
    ("exercise_cell: backprop", "exercise_cell: forward", "exercise_cell"),
    ("logprobs: {call: backprop, key: dlogprobs,", "logprobs: {call: backprop, key: 0,", "targets.logprobs.key"),
])
def test_a_pack_whose_exercise_cell_cannot_be_found_is_refused(tmp_path, old, new, where):
    folder = shutil.copytree(TEMPLATE.parent, tmp_path / "pack")
    yaml = folder / "exercise.yaml"
    assert old in yaml.read_text()
    yaml.write_text(yaml.read_text().replace(old, new))
    with pytest.raises(PackError) as info:
        load_pack(folder)
    assert info.value.key == where


def test_a_case_of_the_pack_is_written_as_the_notebook_globals_it_sets():
    torch = pytest.importorskip("torch")
    pack = load_pack("makemore-backprop")
    rng = np.random.default_rng(0)
    dims = {"N": 3, "V": 4, "T": 2, "E": 1, "H": 2}
    tensors = {"Xb": rng.integers(0, 4, (3, 2)), "Yb": rng.integers(0, 4, (3,)),
               **{name: rng.standard_normal((2, 2)) for name in pack.params}}
    namespace = {}
    exec(case_source(pack, Case(1, 0, dims, tensors)), namespace)
    assert namespace["Xb"].dtype == torch.int64 and namespace["C"].dtype == torch.float64
    assert torch.equal(namespace["W2"], torch.from_numpy(tensors["W2"]))
