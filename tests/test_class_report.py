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
    assert tips == ["1 with score 0–1", "0 with score 1–2", "2 with score 2–3", "0 with score 3–4",
                    "1 with score 4–5", "1 with score 5"]


def test_whole_submission_failures_apart_from_the_mistakes_and_reasons_listed(page):
    root = ET.fromstring(page.read_text().split("\n", 1)[1])
    tables = root.findall(".//table")
    # dave's syntax error counts once, in a table of its own, with the first line of why.
    not_run = [[text_of(td) for td in tr] for tr in tables[0].iter("tr") if tr[0].tag == "td"]
    assert [row[:2] for row in not_run] == [["dave", "error"]] and "SyntaxError" in not_run[0][2]
    # The mistakes are those of the four submissions that ran.
    diagnoses = {text_of(tr[0]): text_of(tr[2]) for tr in tables[1].iter("tr") if tr[0].tag == "td"}
    assert diagnoses["w1"] == "relu_mask ×2, transpose ×1" and diagnoses["w2"] == ""
    failing = [[text_of(td) for td in tr] for tr in tables[2].iter("tr") if tr[0].tag == "td"]
    assert [row[0] for row in failing] == ["dave", "<img src=x>", "bob", "carol"]
    assert failing[3][:4] == ["carol", "ok", "4/5", "w1 (transpose)"] and failing[3][4].startswith("w1: grad_w1 ret")
    chart = root.find(f".//{SVG}svg[@aria-label='mistakes per target']")
    labels = [text_of(t) for t in chart.iter(f"{SVG}text")]
    assert "3 of 4" in labels and "relu_mask" in labels  # the bar's count, and the legend


def test_an_empty_or_all_right_class():
    assert "holds no results" in class_report([])
    right = Report("mlp2", "a", "ok", (TargetResult("w1", True, 1.0, 1.0, "ok"),), seed=0)
    page = class_report([right])
    assert "No target failed in a submission that ran." in page and "Every submission got full marks." in page
    wrong = Report("big", "b", "ok", (TargetResult("w1", False, 0.0, 50.0, "no", Diagnosis("sign", "s")),), seed=1)
    two = class_report([right, wrong])
    ET.fromstring(two.split("\n", 1)[1])  # two sections, ten bins for 50 points
    # Two case sets on one page are announced, each section labelled.
    assert "This page holds 2 sections" in two and "<h2>mlp2, case set seed 0</h2>" in two
    assert "<h2>big, case set seed 1</h2>" in two and "0–5" in two


def test_report_of_one_exercise_or_seed(bpgrade_cmd, cli_env, page, tmp_path):
    db = page.parent / "gradebook.sqlite"

    def report(*args):
        return subprocess.run([*bpgrade_cmd, "report", "--db", str(db), "-o", str(tmp_path / "r.html"), *args],
                              capture_output=True, text=True, env=cli_env, timeout=60)

    assert report("-e", "mlp2", "--seed", "0").returncode == 0
    assert "mlp2, case set seed 0" in (tmp_path / "r.html").read_text()
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


def test_each_code_has_one_colour_in_every_report_and_only_passing_is_green():
    from bpgrade.classreport import CODE_COLOURS
    from bpgrade.reports import DIAGNOSIS_CODES

    assert set(DIAGNOSIS_CODES) <= set(CODE_COLOURS) and len(set(CODE_COLOURS.values())) == len(CODE_COLOURS)
    assert "#1a7f37" not in CODE_COLOURS.values()

    def fill_of(page, code):
        return re.search(rf'fill="(#\w+)"><title>w1: {code} ', page)[1]

    def wrong(sub, code):
        return Report("mlp2", sub, "ok", (TargetResult("w1", False, 0.0, 1.0, "x", Diagnosis(code, "t")),), seed=0)

    one = class_report([wrong("a", "error"), wrong("b", "sign")])
    other = class_report([wrong("c", "sign"), wrong("d", "sign"), wrong("e", "error")])
    assert fill_of(one, "error") == fill_of(other, "error") == CODE_COLOURS["error"]
    assert fill_of(one, "sign") == fill_of(other, "sign")


# Run in the page by Chromium: each pair of labels of a chart that overlap, and each label that
# runs out of its chart, as "a | b" lines.
LAYOUT_CHECK = """<script>
const found = [];
for (const svg of document.querySelectorAll('svg')) {
  const frame = svg.getBoundingClientRect();
  const boxes = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
  boxes.forEach(([a, p], i) => {
    if (p.left < frame.left - 0.5 || p.right > frame.right + 0.5) found.push(a + ' | outside its chart');
    boxes.slice(i + 1).forEach(([b, q]) => {
      const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
      const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
      if (w > 0.5 && h > 0.5) found.push(a + ' | ' + b);
    });
  });
}
const out = document.createElement('pre');
out.id = 'layout';
out.textContent = found.join('\\n') || 'none';
document.body.appendChild(out);
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)")
def test_no_two_labels_overlap_in_the_rendered_page(tmp_path):
    from bpgrade.reports import DIAGNOSIS_CODES

    # Every diagnosis code in one chart, long names and all, on two case sets.
    codes = [c for c in DIAGNOSIS_CODES if c != "precision"]
    reports = [Report("mlp-deep", f"s{i:02d}", "ok", tuple(
        TargetResult(name, False, 0.0, 1.0, "wrong", Diagnosis(codes[(i + k) % len(codes)], "t"))
        for k, name in enumerate(("delta", "layers[0].w", "layers[0].b", "a_target_with_a_very_long_name_indeed"))),
        seed=seed) for seed in (0, 7) for i in range(40)]
    page = tmp_path / "report.html"
    page.write_text(class_report(reports).replace("</body>", LAYOUT_CHECK + "</body>"))
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    layout = re.search(r'<pre id="layout">(.*?)</pre>', proc.stdout, re.S)
    assert layout is not None, proc.stdout[-2000:]
    assert layout[1] == "none", layout[1]
