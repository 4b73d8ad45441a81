"""bpgrade: a JAX reference and autograder for hand-derived backpropagation.

Networks are pure functions over parameter pytrees (:mod:`bpgrade.networks`);
``jax.grad`` gives the ground truth; :func:`check` grades a submission::

    import bpgrade
    report = bpgrade.check("mlp2", "submission.py")
    print(report)            # the table: target, pass/fail, points, reason
    report.to_dict()         # the JSON record

or, in a notebook, with the functions themselves::

    bpgrade.check("mlp2", {"w1": grad_w1, "b1": grad_b1})
"""

from . import networks
from .cases import Case, generate_cases
from .errors import BpgradeError, DeviceError, PackError, SubmissionError
from .grader import check
from .packs import Pack, Target, load_pack, shipped_packs
from .reports import Diagnosis, Report, TargetResult

__version__ = "0.1.0"

__all__ = [
    "BpgradeError", "Case", "DeviceError", "Diagnosis", "Pack", "PackError", "Report", "SubmissionError",
    "Target", "TargetResult", "check", "generate_cases", "load_pack", "networks", "shipped_packs",
]
