"""makemore-backprop, wrong on purpose: dcounts without the path through counts_sum (the reference, edited)."""

EDITS = [
    ('dcounts += torch.ones_like(counts) * dcounts_sum\n',
     ''),
]
FAILS = ['counts', 'norm_logits', 'logit_maxes', 'logits', 'h', 'W2', 'b2', 'hpreact', 'bngain', 'bnbias',
         'bnraw', 'bnvar_inv', 'bnvar', 'bndiff2', 'bndiff', 'bnmeani', 'hprebn', 'embcat', 'W1', 'emb',
         'C']
DIAGNOSES = {'counts': 'chain_rule', 'norm_logits': 'chain_rule', 'logit_maxes': 'chain_rule', 'logits':
             'chain_rule', 'h': 'chain_rule', 'W2': 'chain_rule', 'b2': 'chain_rule', 'hpreact':
             'chain_rule', 'bngain': 'chain_rule', 'bnbias': 'chain_rule', 'bnraw': 'chain_rule',
             'bnvar_inv': 'chain_rule', 'bnvar': 'chain_rule', 'bndiff2': 'chain_rule', 'bndiff':
             'chain_rule', 'bnmeani': 'chain_rule', 'hprebn': 'chain_rule', 'embcat': 'chain_rule', 'W1':
             'chain_rule', 'emb': 'chain_rule', 'C': 'chain_rule'}
