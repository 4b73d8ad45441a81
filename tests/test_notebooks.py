"""Jupyter notebooks as submissions: what runs, what is said of the rest, errors at the
student's cell and line, malformed notebooks, and every entry point."""

import json
import shutil
import subprocess
import time

import pytest

import bpgrade
from bpgrade import gradescope
from bpgrade.notebooks import parse_notebook

from conftest import REFERENCE

REF = REFERENCE.read_text()


def code(source: str, tags: list[str] | None = None) -> dict:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source.splitlines(keepends=True)}
    if tags:
        cell["metadata"]["tags"] = tags
    return cell


def markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook(cells: list[dict]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3"}},
                       "cells": cells}, indent=1)


def course_notebook(gradients: str = REF) -> list[dict]:
    """What a student hands in: markdown, a pip install, a magic, imports with plotting ones,
    the gradient functions spread over cells, a training loop, a plot, a scratch cell."""
    helpers, _, functions = gradients.partition("def grad_w1")
    return [
        markdown("# Homework 3: backpropagation\nDerive dMSE/dw1, ... by hand."),
        code("!pip install numpy matplotlib tqdm\n%matplotlib inline"),
        code("import numpy as np\nimport matplotlib.pyplot as plt\nfrom tqdm import tqdm\n"
             "np.random.seed(0)\nLEARNING_RATE = 0.05"),
        markdown("## Forward pass and helpers"),
        code(helpers),
        markdown("## The gradients"),
        code("def grad_w1" + functions),
        code("x = np.random.randn(16, 3)\ny = np.random.randn(16, 1)\n"
             "params = {'w1': np.random.randn(3, 4), 'b1': np.zeros(4), 'w2': np.random.randn(4, 1),\n"
             "          'b2': np.zeros(1)}"),
        code("losses = []\nfor step in tqdm(range(30)):\n"
             "    params['w1'] -= LEARNING_RATE * grad_w1(x, y, params)\n"
             "    losses.append(float(np.mean(grad_w1(x, y, params) ** 2)))\nprint(losses[-1])"),
        code("fig, ax = plt.subplots()\nax.plot(losses)\nax.set_title('training')\nplt.show()"),
        code("%%time\ntrain_for_an_hour()"),
        code("raise RuntimeError('my scratch cell')", tags=["skip-grading"]),
    ]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("nb") / "alice.ipynb"
    path.write_text(notebook(course_notebook()))
    return path


@pytest.fixture(scope="module")
def wrong(tmp_path_factory):
    """The same notebook with dw2 twice what it should be."""
    assert "return l1.T @ d_l2" in REF
    path = tmp_path_factory.mktemp("nb") / "bob.ipynb"
    path.write_text(notebook(course_notebook(REF.replace("return l1.T @ d_l2", "return 2 * l1.T @ d_l2"))))
    return path


@pytest.mark.parametrize("run_all", [False, True])
def test_a_course_notebook_passes_and_says_what_it_left_out(mlp2, good, run_all):
    report = bpgrade.check(mlp2, good, run_all=run_all)
    assert report.status == "ok" and report.score == 5.0, report.to_text()
    notes = "\n".join(report.notes)
    assert "cell 2: line 1, `!pip install numpy matplotlib tqdm`, is a shell escape: never run" in notes
    assert "cell 2: line 2, `%matplotlib inline`, is IPython syntax: never run" in notes
    assert "cell 3: line 2, `import matplotlib.pyplot as plt`, imports a display-only module" in notes
    assert "cell 11: `%%time` is a cell magic: the cell is never run" in notes
    assert "cell 12: tagged skip-grading, left out" in notes
    assert ("cell 9: left out `losses = []` (line 1), `for step in tqdm(range(30)):` (line 2), "
            "`print(losses[-1])` (line 5)" in notes) == (not run_all)
    # Only --run-all runs the training loop, which prints.
    assert ("0." in report.output) == run_all


def test_a_wrong_function_fails_that_target_only(mlp2, wrong):
    report = bpgrade.check(mlp2, wrong)
    assert [t.name for t in report.targets if not t.passed] == ["w2"]
    assert report.targets[2].diagnosis.code == "scale"


def test_errors_point_at_the_cell_and_line(mlp2, tmp_path):
    cells = course_notebook()
    rest = "".join(cells[6]["source"]).replace("def grad_w1", "def _unused_w1", 1)
    cells[6] = code("def grad_w1(x, y, params):\n    h = 1\n    return h / 0\n\n" + rest)
    path = tmp_path / "carol.ipynb"
    path.write_text(notebook(cells))
    w1 = bpgrade.check(mlp2, path).targets[0]
    assert "ZeroDivisionError: division by zero (cell 7, line 3: `return h / 0`)" in w1.message
    assert "raised ZeroDivisionError at cell 7, line 3: `return h / 0`" in w1.diagnosis.text



def test_a_cell_that_is_not_python_is_left_out_or_stops_run_all(mlp2, tmp_path):
    cells = course_notebook()
    cells[9] = code("plt.plot(losses\nplt.show()")  # a broken plotting cell
    path = tmp_path / "frank.ipynb"
    path.write_text(notebook(cells))
    report = bpgrade.check(mlp2, path)
    assert report.score == 5.0
    assert any(n.startswith("cell 10: is not Python (") and n.endswith("left out") for n in report.notes)
    stopped = bpgrade.check(mlp2, path, run_all=True)
    assert stopped.status == "error" and "SyntaxError" in stopped.message and "(cell 10, line 1" in stopped.message


def test_a_missing_package_is_named_with_its_cell(mlp2, tmp_path):
    cells = course_notebook()
    cells[2] = code("import numpy as np\nimport sklearn_that_is_not_installed as skl")
    path = tmp_path / "dave.ipynb"
    path.write_text(notebook(cells))
    report = bpgrade.check(mlp2, path)
    assert report.status == "error" and report.score == 0
    assert "No module named 'sklearn_that_is_not_installed'" in report.message
    assert report.message.endswith("(cell 3, line 2: `import sklearn_that_is_not_installed as skl`)")


def test_autodiff_in_a_cell_that_runs_is_forbidden(mlp2, tmp_path):
    cells = course_notebook()
    cells.insert(3, code("import jax"))
    path = tmp_path / "eve.ipynb"
    path.write_text(notebook(cells))
    assert bpgrade.check(mlp2, path).status == "forbidden"


@pytest.mark.parametrize("text, error", [
    ("{not json", "the notebook is not valid JSON"),
    (json.dumps({"nbformat": 3, "cells": []}), "nbformat 3; bpgrade reads nbformat 4"),
    (json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": []}]}),
     "the notebook is nbformat 3; bpgrade reads nbformat 4 (open it in a current Jupyter and save it again)"),
    (json.dumps([1, 2]), "not a Jupyter notebook"),
    (notebook([markdown("only words")]), "the notebook has no code cells"),
])
def test_a_malformed_notebook_gets_a_clear_error_and_no_credit(mlp2, tmp_path, text, error):
    path = tmp_path / "broken.ipynb"
    path.write_text(text)
    report = bpgrade.check(mlp2, path)
    assert (report.status, report.score) == ("error", 0.0)
    assert error in report.message


def test_what_runs_keeps_line_numbers_and_leaves_the_rest_out():
    program = parse_notebook(notebook([
        code("import numpy as np; print('hi')\nSIZES = (3, 4)\nact = np.tanh\nW = np.ones(3)\n"
             "def f(x):\n    import matplotlib.pyplot as plt\n    return 'é' + x + act(SIZES)  # é\n"
             "for i in range(3):\n    print(i)\n"
             "try:\n    import scipy\nexcept ImportError:\n    scipy = None\n"),
    ]), functions=["f"])
    [(number, kept)] = program.cells
    assert number == 1
    assert kept.splitlines() == [
        "import numpy as np; pass", "SIZES = (3, 4)", "act = np.tanh", "pass",
        "def f(x):", "    plt = __bpgrade_display__", "    return 'é' + x + act(SIZES)  # é",
        "pass", "", "try:", "    import scipy", "except ImportError:", "    scipy = None"]
    assert program.notes[-1] == "only what the graded functions need ran; --run-all runs every code cell"
    assert program.left_out == {"W": "cell 1, line 4", "i": "cell 1, line 8"}
    everything = parse_notebook(notebook([code("for i in range(3):\n    print(i)\n%time f(1)")]), run_all=True)
    assert everything.cells == ((1, "for i in range(3):\n    print(i)\npass"),)


@pytest.fixture(scope="module")
def batch(bpgrade_cmd, cli_env, tmp_path_factory, good, wrong):
    folder = tmp_path_factory.mktemp("batch")
    shutil.copy(good, folder / "alice.ipynb")
    shutil.copy(wrong, folder / "bob.ipynb")
    (folder / "broken.ipynb").write_text("{")
    shutil.copy(REFERENCE, folder / "carol.py")
    (folder / "dave").mkdir()
    shutil.copy(good, folder / "dave" / "homework.ipynb")
    # A sub-folder's one .py file is its submission, whatever notebook lies beside it.
    (folder / "erin").mkdir()
    shutil.copy(REFERENCE, folder / "erin" / "solution.py")
    (folder / "erin" / "scratch.ipynb").write_text("{")
    proc = subprocess.run([*bpgrade_cmd, "grade", str(folder), "-e", "mlp2", "--db", str(folder / "g.sqlite"),
                           "-q"], capture_output=True, text=True, env=cli_env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return {r["submission"]: r for r in map(json.loads, proc.stdout.splitlines())}


def test_a_batch_grades_notebooks_beside_python_files(batch):
    assert {k: (r["status"], r["score"]) for k, r in batch.items()} == {
        "alice": ("ok", 5.0), "bob": ("ok", 4.0), "broken": ("error", 0.0), "carol": ("ok", 5.0),
        "dave": ("ok", 5.0), "erin": ("ok", 5.0)}
    assert "not valid JSON" in batch["broken"]["message"]
    assert any("tagged skip-grading" in note for note in batch["alice"]["notes"])
    assert batch["carol"]["notes"] == []


def test_check_cli_takes_a_notebook_and_run_all(bpgrade_cmd, cli_env, good, wrong):
    proc = subprocess.run([*bpgrade_cmd, "check", str(good), "-e", "mlp2"], capture_output=True, text=True,
                          env=cli_env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "score 5/5\nnotes:\n  cell 2: line 1" in proc.stdout
    proc = subprocess.run([*bpgrade_cmd, "check", str(wrong), "-e", "mlp2", "--run-all", "--format", "json"],
                          capture_output=True, text=True, env=cli_env, timeout=180)
    assert proc.returncode == 1
    record = json.loads(proc.stdout)
    assert record["score"] == 4.0 and not any("left out `" in n for n in record["notes"])


def test_gradescope_grades_an_uploaded_notebook(mlp2, tmp_path, wrong):
    (tmp_path / "sub").mkdir()
    shutil.copy(wrong, tmp_path / "sub" / "hw3.ipynb")
    results = gradescope.autograde(mlp2, tmp_path / "sub")
    assert results["score"] == 4.0 and "Notes:\n- cell 2: line 1" in results["output"]


def test_what_the_graded_functions_need_runs_through_every_cell_and_percent_lines_stay_python():
    program = parse_notebook(notebook([
        code("import numpy as np\nx = np.ones(3)\nD = x.shape\nTWO_PI = np.pi * 2\nfmt = ('%d'\n       % 3)"),
        code("H = TWO_PI + 1\nZ = not_defined_anywhere\ndef helper():\n    return H, fmt"),
        code("def grad_w1(x, y, params):\n    return helper()"),
    ]), functions=["grad_w1"])
    assert program.cells[:2] == ((1, "import numpy as np\npass\npass\nTWO_PI = np.pi * 2\nfmt = ('%d'\n       % 3)"),
                                 (2, "H = TWO_PI + 1\npass\ndef helper():\n    return H, fmt"))
    assert program.notes[:2] == ("cell 1: left out `x = np.ones(3)` (line 2), `D = x.shape` (line 3)",
                                 "cell 2: left out `Z = not_defined_anywhere` (line 2)")


def test_a_training_loop_that_calls_a_graded_function_stays_out():
    """The graded functions read their arguments, not the notebook's `params`: the loop that
    changes `params` is not needed, while a helper built by a call (np.vectorize) is."""
    program = parse_notebook(notebook([
        code("import numpy as np\nrelu = np.vectorize(lambda z: max(z, 0.0))\nparams = {'w1': np.ones(2)}"),
        code("def grad_w1(x, y, params):\n    return relu(x)"),
        code("for step in range(3):\n    params['w1'] -= grad_w1(0, 0, params)\nnp.random.shuffle([1])"),
    ]), functions=["grad_w1"])
    assert program.cells[0] == (1, "import numpy as np\nrelu = np.vectorize(lambda z: max(z, 0.0))\npass")
    assert program.cells[2] == (3, "pass\n\npass")


def test_an_endless_training_cell_costs_nothing_by_default_and_times_out_with_run_all(mlp2, tmp_path):
    cells = course_notebook()
    cells[8] = code("while True:\n    pass")
    path = tmp_path / "grace.ipynb"
    path.write_text(notebook(cells))
    assert bpgrade.check(mlp2, path, timeout=3).score == 5.0
    endless = bpgrade.check(mlp2, path, timeout=3, run_all=True)
    assert (endless.status, endless.score) == ("timeout", 0.0)


def test_shell_escapes_and_ipython_calls_never_reach_a_shell(mlp2, tmp_path):
    marker = tmp_path / "escaped"
    cells = course_notebook()
    cells[1] = code(f"!touch {marker}\n%system touch {marker}")
    cells.append(code(f"get_ipython().system('touch {marker}')\nget_ipython().run_line_magic('sx', 'touch {marker}')"))
    path = tmp_path / "heidi.ipynb"
    path.write_text(notebook(cells))
    for run_all in (False, True):
        assert bpgrade.check(mlp2, path, run_all=run_all).score == 5.0
    assert not marker.exists()


@pytest.mark.parametrize("line", ["import matplotlib", "%matplotlib inline", "x = f()"])
def test_reading_a_notebook_takes_time_linear_in_its_length(line):
    """10,000 such lines read in well under a second each way (it took 137 s when it was quadratic),
    and the notes stay a few lines long."""
    times = {}
    for n in (1_000, 10_000):
        text = notebook([code(f"{line}\n" * n), code(REF)])
        times[n] = []
        for _ in range(3):  # the best of three: a busy machine slows one run, not all
            start = time.perf_counter()
            program = parse_notebook(text)
            times[n].append(time.perf_counter() - start)
        assert len(program.notes) <= 13
    # Ten times the lines: about ten times the time (a quadratic reader took a hundred).
    assert min(times[10_000]) < 5 and min(times[10_000]) < 50 * max(min(times[1_000]), 1e-3)


def test_notes_are_capped_and_clean():
    cells = [code(f"import seaborn  # \u202e{i}\x1b[2J") for i in range(200)] + [code(REF)]
    program = parse_notebook(notebook(cells))
    assert len(program.notes) == 51 and program.notes[-1] == "and 150 more notes"
    assert not any("\x1b" in note or "\u202e" in note for note in program.notes)


def test_a_notebook_is_limited_by_its_code_not_its_outputs(tmp_path):
    cells = [code(REF)]
    cells[0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "y" * (3 << 20)}]
    (tmp_path / "outputs.ipynb").write_text(notebook(cells))
    assert bpgrade.check("mlp2", tmp_path / "outputs.ipynb").passed
    (tmp_path / "code.ipynb").write_text(notebook([code(REF + "\n# " + "x" * (2 << 20))]))
    report = bpgrade.check("mlp2", tmp_path / "code.ipynb")
    assert report.status == "error" and "runs at most 1 MiB (--max-size)" in report.message


def test_a_form_feed_or_line_separator_does_not_shift_what_is_left_out():
    """Python ends lines at \\n and \\r only; the edits must land where the parser says."""
    cell = 'X = "\x0c\u2028"  # odd characters\nimport matplotlib.pyplot as plt\nprint(1)\n' + REF + \
        "\ndef g():\n    return X\n"
    program = parse_notebook(notebook([code(cell)]), functions=["g"])
    ran = program.cells[0][1]
    assert ran.startswith('X = "\x0c\u2028"  # odd characters\nplt = __bpgrade_display__\npass\n')
    assert ran.count("\n") == cell.count("\n")


def test_an_error_quotes_the_deepest_line_of_the_students_own_cells(mlp2, tmp_path):
    path = tmp_path / "helper.ipynb"
    path.write_text(notebook([
        markdown("# helpers"),
        code("def check_shapes(x):\n    if x.ndim == 2:\n        raise ValueError('shapes are off')"),
        code("def grad_w1(x, y, params):\n    check_shapes(x)\n    return x"),
    ]))
    w1 = bpgrade.check(mlp2, path).targets[0]
    assert "ValueError: shapes are off (cell 2, line 3: `raise ValueError('shapes are off')`)" in w1.message


def test_a_name_error_on_a_left_out_line_says_where_and_how_to_run_it(mlp2, tmp_path):
    path = tmp_path / "dynamic.ipynb"
    path.write_text(notebook([
        code("import numpy as np\nSCALE = np.float64(2.0)\nprint('training...')"),
        code("def grad_w1(x, y, params):\n    return eval('SCALE') * x"),  # a use no analysis can see
    ]))
    w1 = bpgrade.check(mlp2, path).targets[0]
    assert ("NameError: name 'SCALE' is not defined here: cell 1, line 2, which defines it, was left out "
            "(--run-all runs every code cell)") in w1.message
    assert "(cell 2, line 2: `return eval('SCALE') * x`)" in w1.message
    assert bpgrade.check(mlp2, path, run_all=True).targets[0].message.startswith("grad_w1 returned shape")


def test_an_import_mixing_display_only_and_other_modules_still_imports_the_others():
    import json as _json

    from bpgrade.notebooks import parse_notebook

    notebook = {"nbformat": 4, "cells": [{"cell_type": "code", "source":
                "import math,matplotlib as mpl,numpy as np\ndef f(): return np.zeros(2) + math.pi"}]}
    code = parse_notebook(_json.dumps(notebook), functions=["f"]).cells[0][1]
    assert code.splitlines()[0] == "import math, numpy as np; mpl = __bpgrade_display__"


@pytest.mark.parametrize("source, cells", [
    ("#%%\nimport numpy as np\n# %% [markdown]\n# notes\n# %%\nx = 1\n", ["import numpy as np", "# notes", "x = 1"]),
    ("x = 0\n# %%\ny = 1\n", ["x = 0", "y = 1"]),                      # code before the first marker
    ("#!/usr/bin/env python\n# coding: utf-8\n\n# In[1]:\n\n\nx = 1\n", ["x = 1"]),  # Jupyter's export
    ("a = 1  # %% a comment\n", None),
    ("# %%time is a magic, not a marker\nx = 1\n", None),
])
def test_a_py_kept_as_cells_is_read_as_its_notebook(source, cells):
    from bpgrade.notebooks import exported_notebook

    found = exported_notebook(source)
    assert (None if found is None else [c["source"] for c in json.loads(found)["cells"]]) == cells
