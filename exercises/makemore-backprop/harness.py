"""How makemore part 4's exercise 1 runs: a cell of statements over the notebook's globals.

bpgrade sets the globals the cell reads (the batch, the parameters, the sizes, and the forward pass's
values, computed here as the notebook's forward cell computes them: the notebook's own come from
names.txt, which the grader does not have), runs the cell, and each target reads the d<name> it
leaves. The notebook's cmp() compares with autograd's .grad, which is never computed here: it does
nothing.
"""

NAMES = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")


def _cmp(s, dt, t):
    pass


def backprop(student, Xb, Yb, params):
    C, W1, b1, W2, b2, bngain, bnbias = (params[k] for k in NAMES)
    student.C, student.W1, student.b1, student.W2, student.b2 = C, W1, b1, W2, b2
    student.bngain, student.bnbias = bngain, bnbias
    student.parameters = [C, W1, b1, W2, b2, bngain, bnbias]
    student.Xb, student.Yb = Xb, Yb
    student.n = student.batch_size = n = Xb.shape[0]
    student.vocab_size, student.n_embd = C.shape
    student.block_size = Xb.shape[1]
    student.n_hidden = W1.shape[1]
    # The notebook's forward pass, statement by statement.
    student.emb = emb = C[Xb]
    student.embcat = embcat = emb.view(emb.shape[0], -1)
    student.hprebn = hprebn = embcat @ W1 + b1
    student.bnmeani = bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
    student.bndiff = bndiff = hprebn - bnmeani
    student.bndiff2 = bndiff2 = bndiff ** 2
    student.bnvar = bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)
    student.bnvar_inv = bnvar_inv = (bnvar + 1e-5) ** -0.5
    student.bnraw = bnraw = bndiff * bnvar_inv
    student.hpreact = hpreact = bngain * bnraw + bnbias
    student.h = h = hpreact.tanh()
    student.logits = logits = h @ W2 + b2
    student.logit_maxes = logit_maxes = logits.max(1, keepdim=True).values
    student.norm_logits = norm_logits = logits - logit_maxes
    student.counts = counts = norm_logits.exp()
    student.counts_sum = counts_sum = counts.sum(1, keepdims=True)
    student.counts_sum_inv = counts_sum_inv = counts_sum ** -1
    student.probs = probs = counts * counts_sum_inv
    student.logprobs = logprobs = probs.log()
    student.loss = -logprobs[range(n), Yb].mean()
    student.cmp = _cmp
    student.run_exercise()
    return student
