"""Stand-in for the week-3 notebook's public_tests, written for bpgrade: the notebook's own checks,
which its test cells call, check nothing here (bpgrade grades the functions itself)."""

__all__ = ["layer_sizes_test", "initialize_parameters_test", "forward_propagation_test", "compute_cost_test",
           "backward_propagation_test", "update_parameters_test", "nn_model_test", "predict_test"]


def _checks_nothing(target, *args, **kwargs):
    """A test cell's check, run in a .py export: bpgrade's grade is what counts."""


layer_sizes_test = initialize_parameters_test = forward_propagation_test = compute_cost_test = _checks_nothing
backward_propagation_test = update_parameters_test = nn_model_test = predict_test = _checks_nothing
