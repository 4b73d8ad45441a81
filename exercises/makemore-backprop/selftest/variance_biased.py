"""makemore-backprop, wrong on purpose (the reference, edited): dbndiff2 with 1/n, not Bessel's 1/(n-1)."""

EDITS = [
    ('dbndiff2 = (1.0/(n-1))*torch.ones_like(bndiff2) * dbnvar',
     'dbndiff2 = (1.0/n)*torch.ones_like(bndiff2) * dbnvar'),
]
FAILS = ['bndiff2', 'bndiff', 'hprebn', 'embcat', 'W1', 'emb', 'C']
DIAGNOSES = {'bndiff2': 'scale', 'bndiff': 'scale', 'hprebn': 'scale', 'embcat': 'scale', 'W1': 'scale',
             'emb': 'scale', 'C': 'scale'}
