"""LMS gradebook imports (Canvas, Moodle, Brightspace): matched to the LMS's own export, parsed back."""

import csv
import io
import subprocess

import pytest

from bpgrade.errors import BpgradeError
from bpgrade.gradebook import Gradebook
from bpgrade.lms import lms_file, read_roster
from bpgrade.reports import Report, TargetResult

# As Canvas exports a gradebook: its columns, a "Points Possible" row, then the students.
CANVAS = '''Student,ID,SIS User ID,SIS Login ID,Section,Backprop (123456),Current Score,Final Score
    Points Possible,,,,,5.00,(read only),(read only)
"Doe, Jane",101,S001,jdoe,CS101 A,,0.00,0.00
"Roe, Richard",102,S002,rroe,CS101 A,,0.00,0.00
"Moe, Mary",103,S003,mmoe,CS101 B,,0.00,0.00
'''
MOODLE = '''First name,Last name,ID number,Institution,Department,Email address,Assignment: Backprop (Real),\
Last downloaded from this course
Jane,Doe,S001,,,jane.doe@uni.edu,-,1700000000
Richard,Roe,S002,,,rroe@uni.edu,-,1700000000
'''
BRIGHTSPACE = '''OrgDefinedId,Username,Last Name,First Name,Email,Backprop Points Grade,End-of-Line Indicator
2001,#jdoe,Doe,Jane,jdoe@uni.edu,,#
2002,#rroe,Roe,Richard,rroe@uni.edu,,#
'''


def report(submission: str, points: float) -> Report:
    targets = tuple(TargetResult(name, i < points, float(i < points), 1.0, "") for i, name in
                    enumerate(("w1", "b1", "w2", "b2", "x")))
    return Report("mlp2", submission, "ok", targets, cases=3, seed=0, device="cpu")


def roster(tmp_path, text):
    (tmp_path / "roster.csv").write_text(text)
    return read_roster(tmp_path / "roster.csv")


def test_canvas_takes_its_own_columns_back(tmp_path):
    reports = [report("jdoe", 5), report("richard_roe", 3), report("stranger", 1)]
    made = lms_file(reports, "canvas", roster(tmp_path, CANVAS), "Backprop")
    rows = list(csv.reader(io.StringIO(made.text)))
    # The header of Canvas's own export, its column for the assignment (with its id) reused.
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Backprop (123456)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "5"]
    assert rows[2:] == [["Doe, Jane", "101", "S001", "jdoe", "CS101 A", "5"],
                        ["Roe, Richard", "102", "S002", "rroe", "CS101 A", "3"]]
    assert made.unmatched == ("stranger (no student of the roster)",)
    assert made.missing == ("Moe, Mary (mmoe)",)
    # A new assignment is a new column, named as asked.
    assert lms_file(reports, "canvas", roster(tmp_path, CANVAS), "HW3").text.splitlines()[0].endswith(",HW3")


def test_moodle_matches_by_email_and_id_number(tmp_path):
    made = lms_file([report("jane.doe", 4), report("S002", 2)], "moodle", roster(tmp_path, MOODLE), "Backprop")
    rows = list(csv.DictReader(io.StringIO(made.text)))
    assert list(rows[0]) == ["First name", "Last name", "ID number", "Email address", "Backprop"]
    assert [(r["Email address"], r["Backprop"]) for r in rows] == [("jane.doe@uni.edu", "4"), ("rroe@uni.edu", "2")]
    assert made.unmatched == () and made.missing == ()


def test_brightspace_writes_points_grade_and_the_end_of_line_indicator(tmp_path):
    made = lms_file([report("jdoe", 5), report("rroe@uni.edu", 1)], "brightspace", roster(tmp_path, BRIGHTSPACE),
                    "Backprop")
    rows = list(csv.reader(io.StringIO(made.text)))
    assert rows == [["OrgDefinedId", "Username", "Backprop Points Grade", "End-of-Line Indicator"],
                    ["2001", "#jdoe", "5", "#"], ["2002", "#rroe", "1", "#"]]


def test_what_cannot_be_placed_is_listed_never_guessed(tmp_path):
    twins = CANVAS + '"Doe, Jane",104,S004,jdoe2,CS101 B,,0.00,0.00\n'
    made = lms_file([report("jane_doe", 5), report("jdoe", 4), report("JDOE", 3)], "canvas", roster(tmp_path, twins))
    assert made.unmatched == ("jane_doe (2 students of the roster)", "JDOE (the same student as jdoe)")
    with pytest.raises(BpgradeError, match="not a moodle gradebook export"):
        lms_file([report("jdoe", 5)], "moodle", roster(tmp_path, CANVAS))


def test_merge_writes_the_canvas_file_and_says_what_it_left_out(bpgrade_cmd, cli_env, tmp_path):
    db = tmp_path / "g.sqlite"
    with Gradebook(db) as book:
        for i, r in enumerate([report("jdoe", 5), report("stranger", 2)]):
            book.record(r, pack_hash="p", content_hash=str(i), path=f"{r.submission}.py")
    (tmp_path / "roster.csv").write_text(CANVAS)
    run = [*bpgrade_cmd, "merge", str(db), "--db", str(tmp_path / "all.sqlite"), "--format", "canvas"]
    proc = subprocess.run([*run, "--roster", str(tmp_path / "roster.csv"), "--assignment", "Backprop", "-o",
                           str(tmp_path / "upload.csv")], capture_output=True, text=True, env=cli_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "upload.csv").read_text().splitlines()[2] == '"Doe, Jane",101,S001,jdoe,CS101 A,5'
    assert "not in the canvas file: submission stranger (no student of the roster)" in proc.stderr
    assert "no submission from Roe, Richard (rroe)" in proc.stderr
    proc = subprocess.run(run, capture_output=True, text=True, env=cli_env, timeout=120)
    assert proc.returncode == 2 and "--format canvas needs --roster FILE" in proc.stderr
