"""fastai-backprop, wrong on purpose: b.g summed over the wrong axis (the reference, edited)."""

EDITS = [('    b.g = out.g.sum(0)', '    b.g = out.g.sum(1)')]
FAILS = ['b1', 'b2']
DIAGNOSES = {'b1': 'shape', 'b2': 'shape'}
