"""fastai-backprop, wrong on purpose: l1.g without the ReLU's mask (the reference, edited)."""

EDITS = [('    l1.g = (l1 > 0).float() * l2.g', '    l1.g = l2.g')]
FAILS = ['w1', 'b1', 'x']
DIAGNOSES = {'w1': 'relu_mask', 'b1': 'relu_mask', 'x': 'relu_mask'}
