"""Loops forever in a graded function: that function alone runs out of its time. EXPECT: ok, no credit"""


def grad_w1(x, y, params):
    while True:
        pass
