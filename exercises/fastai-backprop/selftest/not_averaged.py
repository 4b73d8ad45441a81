"""fastai-backprop, wrong on purpose: out.g not divided by N (the reference, edited)."""

EDITS = [('    out.g = 2. * diff[:, None] / inp.shape[0]', '    out.g = 2. * diff[:, None]')]
FAILS = ['w1', 'b1', 'w2', 'b2', 'x']
DIAGNOSES = {'w1': 'scale', 'b1': 'scale', 'w2': 'scale', 'b2': 'scale', 'x': 'scale'}
