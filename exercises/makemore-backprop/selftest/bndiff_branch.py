"""makemore-backprop, wrong on purpose: dbndiff without the path through bndiff2 (the reference, edited)."""

EDITS = [
    ('dbndiff += (2*bndiff) * dbndiff2\n',
     ''),
]
FAILS = ['bndiff', 'hprebn', 'embcat', 'W1', 'emb', 'C']
DIAGNOSES = {'bndiff': 'chain_rule', 'hprebn': 'chain_rule', 'embcat': 'chain_rule', 'W1': 'chain_rule',
             'emb': 'chain_rule', 'C': 'chain_rule'}
