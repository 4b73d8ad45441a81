"""Similar submissions: a renamed, reordered copy is found; independent solutions are not."""

import ast
import json
import subprocess

from bpgrade.similarity import compare, similar_pairs, units

from conftest import REFERENCE, ROOT

NAMES = ("grad_w1", "grad_b1", "grad_w2", "grad_b2", "grad_x")
ORIGINAL = REFERENCE.read_text()


def disguised(source: str) -> str:
    """The same code with its names changed, its comments and layout gone, and its functions reordered."""
    renamed = (source.replace("_backward", "compute_everything").replace("d_u1", "delta_hidden")
               .replace("params", "theta").replace("u1", "pre_activation"))
    tree = ast.parse(renamed)
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    tree.body = imports + [node for node in reversed(tree.body) if node not in imports]
    return ast.unparse(tree)


def test_a_copy_with_other_names_comments_and_order_is_found():
    copy = "# my own work!\n" + disguised(ORIGINAL)
    assert copy != ORIGINAL and "_backward" not in copy
    pair = compare("alice", units([ORIGINAL], NAMES), "bob", units([copy], NAMES))
    assert pair.similarity > 0.95
    assert "grad_w1" in pair.shared and all(line.strip() for lines in pair.shared.values() for line in lines)


def test_independent_right_solutions_are_not_found():
    independent = {path.stem: units([path.read_text()], NAMES)
                   for path in (ROOT / "tests" / "submissions" / "mlp2").glob("good_*.py")}
    independent["reference"] = units([ORIGINAL], NAMES)
    assert len(independent) >= 4
    assert similar_pairs(independent) == []


def test_similar_lists_the_pair_from_a_graded_batch(bpgrade_cmd, cli_env, tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "alice.py").write_text(ORIGINAL)
    (batch / "bob.py").write_text(disguised(ORIGINAL))
    (batch / "carol.py").write_text((ROOT / "tests" / "submissions" / "mlp2" / "good_einsum.py").read_text())
    db = tmp_path / "g.sqlite"
    graded = subprocess.run([*bpgrade_cmd, "grade", str(batch), "-e", "mlp2", "--db", str(db), "-q"],
                            capture_output=True, text=True, env=cli_env, timeout=300)
    assert graded.returncode == 0, graded.stderr
    proc = subprocess.run([*bpgrade_cmd, "similar", "--db", str(db), "--format", "json"], capture_output=True,
                          text=True, env=cli_env, timeout=120)
    found = json.loads(proc.stdout)
    assert [(p["a"], p["b"]) for p in found["pairs"]] == [("alice", "bob")] and found["threshold"] == 0.9
    text = subprocess.run([*bpgrade_cmd, "similar", "--db", str(db)], capture_output=True, text=True, env=cli_env,
                          timeout=120).stdout
    assert "alice ~ bob: 100%" in text and "not proof of copying" in text
    report = tmp_path / "report.html"
    subprocess.run([*bpgrade_cmd, "report", "--db", str(db), "-o", str(report)], env=cli_env, timeout=120, check=True,
                   capture_output=True)
    page = report.read_text()
    assert "<h2>Similar submissions</h2>" in page and "<td>alice</td><td>bob</td><td>100%</td>" in page
    assert "never a verdict" in page
