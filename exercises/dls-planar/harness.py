"""How the week-3 notebook calls a student's code: forward_propagation for the cache, then
backward_propagation(parameters, cache, X, Y), whose dict of gradients is graded."""


def backward_propagation(student, X, Y, params):
    parameters = dict(params)
    A2, cache = student.forward_propagation(X, parameters)
    return student.backward_propagation(parameters, cache, X, Y)
