"""The class report: one self-contained HTML page, parsed back, and rendered by headless
Chromium where it is installed."""

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from bpgrade.classreport import class_report
from bpgrade.packs import SHIPPED_DIR
from bpgrade.reports import Diagnosis, Report, TargetResult

from conftest import REFERENCE, SUBMISSIONS

SVG = "{http://www.w3.org/2000/svg}"
SELFTEST = SHIPPED_DIR / "mlp2" / "selftest"


@pytest.fixture(scope="module")
def page(bpgrade_cmd, cli_env, tmp_path_factory):
    """A class of five graded through the command line: right, two wrong, one that does not
    parse, and one whose file name is markup."""
    tmp = tmp_path_factory.mktemp("class")
    folder = tmp / "subs"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / "alice.py")
    shutil.copy(SELFTEST / "relu_mask_left_out.py", folder / "bob.py")
    shutil.copy(SELFTEST / "w1_transposed.py", folder / "carol.py")
    shutil.copy(SUBMISSIONS / "hostile" / "syntax_error.py", folder / "dave.py")
    shutil.copy(SELFTEST / "relu_mask_left_out.py", folder / "<img src=x>.py")
    db = tmp / "gradebook.sqlite"
    graded = subprocess.run([*bpgrade_cmd, "grade", str(folder), "-e", "mlp2", "--db", str(db), "-q"],
                            capture_output=True, text=True, env=cli_env, timeout=300)
    assert graded.returncode == 0, graded.stderr
    out = tmp / "report.html"
    proc = subprocess.run([*bpgrade_cmd, "report", "--db", str(db), "-o", str(out)], capture_output=True, text=True,
                          env=cli_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stderr and proc.stdout == ""
    return out


def text_of(element) -> str:
    return "".join(element.itertext())


def test_the_page_parses_back_and_needs_no_network(page):
    html = page.read_text()
    root = ET.fromstring(html.split("\n", 1)[1])  # after the doctype
    assert root.tag == "html"
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"\s(src|href)=\"", html) and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert len(root.findall(f".//{SVG}svg")) == 4
    assert "&lt;img src=x&gt;" in html


def test_the_summary_and_pass_rates_are_the_class_s(page):
    root = ET.fromstring(page.read_text().split("\n", 1)[1])
    summary = text_of(root.find(".//p[@class='summary']"))
    assert "submissions: 5" in summary and "full marks: 1 (20%)" in summary and "error 1" in summary
    # alice 5, bob 2, carol 4, dave 0, <img> 2: mean 2.6, median 2.
    assert "mean score: 2.60 / 5" in summary and "median: 2" in summary
    rates = root.find(f".//{SVG}svg[@aria-label='pass rate per target']")
    labels = [text_of(t) for t in rates.iter(f"{SVG}text")]
    assert labels == ["w1", "20% (1/5)", "b1", "40% (2/5)", "w2", "80% (4/5)", "b2", "80% (4/5)",
                      "x", "40% (2/5)"]


def test_the_histogram_counts_every_submission(page):
    root = ET.fromstring(page.read_text().split("\n", 1)[1])
    chart = root.find(f".//{SVG}svg[@aria-label='score distribution']")
    tips = [text_of(r.find(f"{SVG}title")) for r in chart.iter(f"{SVG}rect")]
    assert tips == ["1 with score 0–", "0 with score 1–", "2 with score 2–", "0 with score 3–",
                    "1 with score 4–", "1 with score 5"]


def test_diagnoses_and_failing_submissions_are_listed(page):
    root = ET.fromstring(page.read_text().split("\n", 1)[1])
    tables = root.findall(".//table")
    diagnoses = {text_of(tr[0]): text_of(tr[2]) for tr in tables[0].iter("tr") if tr[0].tag == "td"}
    assert diagnoses["w1"] == "relu_mask ×2, transpose ×1, error ×1"
    assert diagnoses["w2"] == "error ×1"
    failing = [[text_of(td) for td in tr] for tr in tables[1].iter("tr") if tr[0].tag == "td"]
    assert [row[0] for row in failing] == ["dave", "<img src=x>", "bob", "carol"]
    assert failing[3] == ["carol", "ok", "4/5", "w1 (transpose)"]


def test_an_empty_or_all_right_class():
    assert "holds no results" in class_report([])
    right = Report("mlp2", "a", "ok", (TargetResult("w1", True, 1.0, 1.0, "ok"),), seed=0)
    page = class_report([right])
    assert "No target failed." in page and "Every submission got full marks." in page
    wrong = Report("big", "b", "ok", (TargetResult("w1", False, 0.0, 50.0, "no", Diagnosis("sign", "s")),), seed=1)
    ET.fromstring(class_report([right, wrong]).split("\n", 1)[1])  # two sections, ten bins for 50 points


def test_report_of_one_exercise_or_seed(bpgrade_cmd, cli_env, page, tmp_path):
    db = page.parent / "gradebook.sqlite"

    def report(*args):
        return subprocess.run([*bpgrade_cmd, "report", "--db", str(db), "-o", str(tmp_path / "r.html"), *args],
                              capture_output=True, text=True, env=cli_env, timeout=60)

    assert report("-e", "mlp2", "--seed", "0").returncode == 0
    assert "mlp2, seed 0" in (tmp_path / "r.html").read_text()
    other = report("-e", "mlp2", "--seed", "5")
    assert other.returncode == 2 and "holds no results for that exercise and seed" in other.stderr


def test_report_without_a_gradebook_is_a_usage_error(bpgrade_cmd, cli_env, tmp_path):
    proc = subprocess.run([*bpgrade_cmd, "report", "--db", str(tmp_path / "none.sqlite"), "-o",
                           str(tmp_path / "r.html")], capture_output=True, text=True, env=cli_env, timeout=60)
    assert proc.returncode == 2 and "no such gradebook" in proc.stderr


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "headless_shell")
                 if shutil.which(n)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_chromium_renders_the_page(page, tmp_path):
    png = tmp_path / "report.png"
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={png}",
                           "--window-size=1000,1400", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 1400)
    # A blank page compresses to a few KB; charts and tables do not.
    assert len(data) > 30_000
