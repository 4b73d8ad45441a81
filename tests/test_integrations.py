"""The CI setups of docs/integrations.md, run as a course would copy them (their install steps
aside): the GitHub Actions step and the GitLab job's script."""

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
import yaml

from bpgrade.packs import SHIPPED_DIR

from conftest import REFERENCE, ROOT

DOC = ROOT / "docs" / "integrations.md"
WRONG = SHIPPED_DIR / "mlp2" / "selftest" / "relu_mask_left_out.py"


def yaml_blocks() -> list[dict]:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)]


@pytest.fixture(scope="module")
def shell_env(cli_env):
    exe = shutil.which("bpgrade")
    if exe is None:
        pytest.skip("bpgrade is not installed in this environment")
    return {**cli_env, "PATH": f"{os.path.dirname(exe)}:{cli_env['PATH']}"}


@pytest.mark.parametrize("submission, code", [(REFERENCE, 0), (WRONG, 1)])
def test_github_actions_step_fails_on_a_wrong_target_and_writes_the_summary(shell_env, tmp_path, submission, code):
    workflow = yaml_blocks()[0]
    assert workflow[True] == ["push", "workflow_dispatch"]  # YAML 1.1 reads the key `on` as True
    steps = {s.get("name"): s for s in workflow["jobs"]["check"]["steps"]}
    shutil.copy(submission, tmp_path / "mlp2.py")
    summary = tmp_path / "summary.md"
    summary.write_text("earlier steps' summary\n")
    # The shell GitHub runs a `run:` step with.
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c",
                           steps["Check the gradients"]["run"]], cwd=tmp_path, capture_output=True, text=True,
                          env={**shell_env, "GITHUB_STEP_SUMMARY": str(summary)}, timeout=180)
    assert proc.returncode == code, proc.stderr
    text = summary.read_text()
    assert text.startswith("earlier steps' summary\n### " + ("✅" if code == 0 else "❌") + " bpgrade mlp2: mlp2: ")
    assert "| target | result | points | reason |" in text
    assert ("<details><summary>w1: relu_mask</summary>" in text) == (code == 1)


def test_gitlab_job_writes_a_junit_report(shell_env, tmp_path):
    job = yaml_blocks()[1]["bpgrade"]
    assert job["artifacts"]["reports"]["junit"] == "report.xml"
    shutil.copy(WRONG, tmp_path / "mlp2.py")
    command = next(line for line in job["script"] if line.startswith("bpgrade check"))
    proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, env=shell_env,
                          timeout=180)
    assert proc.returncode == 1
    suite = ET.parse(tmp_path / "report.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("5", "3")
