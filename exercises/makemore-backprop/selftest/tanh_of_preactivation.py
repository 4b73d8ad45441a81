"""makemore-backprop, wrong on purpose: tanh's derivative taken at its input (the reference, edited)."""

EDITS = [
    ('dhpreact = (1.0 - h**2) * dh',
     'dhpreact = (1.0 - hpreact**2) * dh'),
]
FAILS = ['hpreact', 'bngain', 'bnbias', 'bnraw', 'bnvar_inv', 'bnvar', 'bndiff2', 'bndiff', 'bnmeani',
         'hprebn', 'embcat', 'W1', 'emb', 'C']
DIAGNOSES = {'hpreact': 'activation_derivative', 'bngain': 'activation_derivative', 'bnbias':
             'activation_derivative', 'bnraw': 'activation_derivative', 'bnvar_inv':
             'activation_derivative', 'bnvar': 'activation_derivative', 'bndiff2': 'activation_derivative',
             'bndiff': 'activation_derivative', 'bnmeani': 'activation_derivative', 'hprebn':
             'activation_derivative', 'embcat': 'activation_derivative', 'W1': 'activation_derivative',
             'emb': 'activation_derivative', 'C': 'activation_derivative'}
