"""The output formats read back: CSV, JUnit XML, Markdown, the notebook's HTML, and the
record's round trip through the gradebook."""

import csv
import io
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

import bpgrade
from bpgrade import exports
from bpgrade.gradebook import Gradebook
from bpgrade.packs import SHIPPED_DIR
from bpgrade.reports import Diagnosis, Report, TargetResult

from conftest import REFERENCE

WRONG = SHIPPED_DIR / "mlp2" / "selftest" / "relu_mask_left_out.py"


@pytest.fixture(scope="module")
def reports(mlp2):
    return {"ref": bpgrade.check(mlp2, REFERENCE), "wrong": bpgrade.check(mlp2, WRONG)}


def hostile_report() -> Report:
    """A report whose names and messages carry markup, pipes, backticks and line breaks."""
    nasty = "<script>alert(1)</script> | `x` **y** [z](http://e.com)\nsecond line"
    return Report("mlp2", "<b>eve|", "ok",
                  (TargetResult("w1", False, 0.0, 1.0, nasty, Diagnosis("sign", "```\nfence " + nasty)),
                   TargetResult("b1", True, 1.0, 1.0, "fine")), cases=3, seed=0, device="cpu")


def test_a_record_survives_the_round_trip(reports):
    for report in reports.values():
        assert Report.from_dict(json.loads(report.to_json())).to_dict() == report.to_dict()


def test_the_gradebook_gives_back_reports_with_what_they_printed(reports, tmp_path):
    printed = Report(**{**reports["wrong"].__dict__, "submission": "bob", "output": "hello"})
    with Gradebook(tmp_path / "g.sqlite") as book:
        book.record(reports["ref"], pack_hash="p", content_hash="a", path="alice.py")
        book.record(printed, pack_hash="p", content_hash="b", path="bob.py")
        back = book.reports("mlp2", 0, ["bob", "mlp2"])
    assert [r.submission for r in back] == ["bob", "mlp2"]
    assert back[0].to_dict() == printed.to_dict() and back[0].output == "hello"


def test_csv_reads_back_as_a_row_per_submission(reports):
    rows = list(csv.DictReader(io.StringIO(exports.to_csv(list(reports.values())))))
    assert [r["submission"] for r in rows] == ["mlp2", "relu_mask_left_out"]
    assert list(rows[0]) == ["submission", "exercise", "status", "w1", "b1", "w2", "b2", "x", "score", "max_score",
                             "w1_code", "b1_code", "w2_code", "b2_code", "x_code", "message"]
    wrong = rows[1]
    assert [float(wrong[t]) for t in ("w1", "b1", "w2", "b2", "x")] == [0.0, 0.0, 1.0, 1.0, 0.0]
    assert float(wrong["score"]) == 2.0 and float(wrong["max_score"]) == 5.0
    # Why, without opening the gradebook: each failing target's code and the first line of its reason.
    codes = [wrong[f"{t}_code"] for t in ("w1", "b1", "w2", "b2", "x")]
    assert codes == ["relu_mask", "relu_mask", "", "", "relu_mask"]
    reasons = wrong["message"].split(" | ")
    assert [r.split(":")[0] for r in reasons] == ["w1", "b1", "x"] and "wrong in" in reasons[0]
    assert rows[0]["message"] == "" and rows[0]["w1_code"] == ""


def test_the_csv_says_why_a_submission_did_not_run_and_neutralises_its_text():
    crashed = Report("mlp2", "eve", "error", (), message="=cmd|' /C calc'!A0\nTraceback ...", cases=3, seed=0)
    unexplained = Report("mlp2", "dan", "ok", (TargetResult("w1", False, 0.0, 1.0, "wrong in 3 of 3 cases\nmore"),),
                         cases=3, seed=0)
    rows = list(csv.DictReader(io.StringIO(exports.to_csv([crashed, unexplained]))))
    assert rows[0]["message"] == "'=cmd|' /C calc'!A0"
    assert rows[1]["w1_code"] == "wrong" and rows[1]["message"] == "w1: wrong in 3 of 3 cases"


def test_junit_reads_back_with_a_testcase_per_target(reports):
    root = ET.fromstring(exports.to_junit(list(reports.values())))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("10", "3", "0")
    failures = {c.get("name"): c.find("failure") for c in root.iter("testcase") if c.find("failure") is not None}
    assert sorted(failures) == ["b1", "w1", "x"]
    assert {f.get("type") for f in failures.values()} == {"relu_mask"}


def test_markdown_of_one_report_escapes_what_the_submission_controls():
    text = hostile_report().to_markdown()
    # Inside the fenced diagnosis, markup is shown as it is; outside, none gets through.
    before, fenced, after = text.split("````")
    assert "<script>" in fenced and "<script>" not in before + after and "<b>" not in before + after
    table = [line for line in text.splitlines() if line.startswith("| w1 ")]
    # The row keeps its four cells: the message's pipe and line break are escaped.
    assert len(table) == 1 and len(re.split(r"(?<!\\)\|", table[0])) == 6
    assert "&lt;script&gt;" in table[0] and "<br>" in table[0]
    # The diagnosis fence is longer than the backtick run inside it.
    assert fenced.startswith("text\nsign: ```\nfence")


def test_markdown_of_a_batch_is_a_table(reports):
    text = exports.to_markdown([reports["ref"], reports["wrong"], hostile_report()])
    lines = text.splitlines()
    assert lines[0] == "### bpgrade: 3 submissions"
    assert lines[2] == "| submission | status | w1 | b1 | w2 | b2 | x | score |"
    assert lines[5] == "| relu\\_mask\\_left\\_out | ok | ❌ | ❌ | ✅ | ✅ | ❌ | 2/5 |"
    assert lines[6].startswith("| &lt;b&gt;eve\\| | ok | ❌ | ✅ |")


class _Table(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.cells, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "td":
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self.cells.append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def test_a_report_renders_as_an_html_table_in_notebooks(reports):
    parser = _Table()
    parser.feed(reports["wrong"]._repr_html_())
    assert parser.tags.count("tr") == 6 and "script" not in parser.tags
    assert parser.cells[:3] == ["w1", "FAIL", "0/1"]
    assert "relu_mask" in parser.cells[3]
    hostile = _Table()
    hostile.feed(hostile_report()._repr_html_())
    assert "script" not in hostile.tags and "<script>alert(1)</script>" in hostile.cells[3]
    assert str(reports["wrong"]) == reports["wrong"].to_text()


@pytest.mark.parametrize("fmt", ["markdown", "gradescope", "junit", "csv", "jsonl"])
def test_every_format_of_grade_and_merge(bpgrade_cmd, cli_env, tmp_path, fmt):
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "alice.py").write_text(REFERENCE.read_text())
    (folder / "bob.py").write_text(WRONG.read_text())
    db = tmp_path / "g.sqlite"
    graded = subprocess.run([*bpgrade_cmd, "grade", str(folder), "-e", "mlp2", "--db", str(db), "--format", fmt,
                             "-q"], capture_output=True, text=True, env=cli_env, timeout=180)
    assert graded.returncode == 0, graded.stderr
    merged = subprocess.run([*bpgrade_cmd, "merge", str(db), "--db", str(tmp_path / "all.sqlite"), "--format", fmt],
                            capture_output=True, text=True, env=cli_env, timeout=180)
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout == graded.stdout
    assert "alice" in graded.stdout and "bob" in graded.stdout


def test_a_cell_that_a_spreadsheet_would_run_is_shown_as_text(reports):
    formula = Report(**{**reports["ref"].__dict__, "submission": '=HYPERLINK("http:evil";"x")'})
    others = [Report(**{**reports["ref"].__dict__, "submission": start + "x"}) for start in "+-@\t"]
    rows = list(csv.reader(io.StringIO(exports.to_csv([formula, *others]))))
    assert [row[0] for row in rows[1:]] == ["'=HYPERLINK(\"http:evil\";\"x\")", "'+x", "'-x", "'@x", "'\tx"]
    score = rows[0].index("score")
    assert rows[1][score:score + 2] == ["5.0", "5.0"]  # numbers stay numbers
    assert exports.spreadsheet_text("alice") == "alice"


def test_feedback_files_are_named_safely_from_ids_the_submissions_control(reports):
    names = ["../../etc/passwd", ".bashrc", "alice", "alice", "a/b", "a_b"]
    files = exports.feedback_files([Report(**{**reports["wrong"].__dict__, "submission": n}) for n in names])
    assert sorted(files) == sorted(f"{stem}.{ext}" for stem in ("_.._etc_passwd", "bashrc", "alice", "alice_",
                                                                  "a_b", "a_b_") for ext in ("md", "html"))
    page = files["alice.html"]
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "relu_mask" in page
    assert "relu_mask" in files["alice.md"] and "alice" in files["alice.md"]
