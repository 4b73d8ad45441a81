"""How the lesson runs forward_and_backward: over the notebook's globals w1, b1, w2, b2, which the
harness sets to the case's tensors (the notebook's own come from MNIST, which the grader does not
have), then reads the gradients it stored in .g."""


def grads(student, x, targ, params):
    student.w1, student.b1, student.w2, student.b2 = (params[k] for k in ("w1", "b1", "w2", "b2"))
    student.forward_and_backward(x, targ)
    return {"w1": student.w1.g, "b1": student.b1.g, "w2": student.w2.g, "b2": student.b2.g, "x": x.g}
