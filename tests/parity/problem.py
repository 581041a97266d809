"""Shared by gen_torch.py and reference.py: the deterministic test problem
and the fixture writer.  The format is documented in README.md.

The problem: two parameter tensors of shapes 3x11 and 19 (52 elements, so
a vector width of 4, 8 or 16 always leaves a tail), seen as one vector x.
Loss and gradient are a fixed ill-conditioned quadratic with a coupling
ring, plus a bounded rational nonlinearity:

  f(x) = sum_i 0.5 d_i (x_i - c_i)^2 + 0.5 kappa (x_i - x_{i-1})^2
         - s_i / (2 (1 + x_i^2))
  g(x) = d (x - c) + kappa (2 x - x_{i-1} - x_{i+1}) + s x / (1 + x^2)^2

(indices cyclic over the 52 elements).  g is computed in float32 with
elementwise IEEE operations only (no transcendental functions, no BLAS),
so it is bit-reproducible on any machine; f is computed exactly
(math.fsum over doubles) and rounded to float32.  The curvatures d span
1e-2 .. 1e1 (condition number 1e3).
"""
import hashlib
import math
import os
import struct

import numpy as np

SHAPES = [(3, 11), (19,)]
SIZES = [int(np.prod(s)) for s in SHAPES]
N = sum(SIZES)
STEPS = 100
KAPPA = np.float32(0.1)
F32 = np.float32

_rs = np.random.RandomState(20241123)
X0 = _rs.standard_normal(N).astype(F32)
C = _rs.standard_normal(N).astype(F32)
D = np.array([10.0 ** e for e in np.linspace(-2.0, 1.0, N)])[_rs.permutation(N)].astype(F32)
S = _rs.uniform(0.5, 2.0, N).astype(F32)


def grad(x):
    """Gradient at x (float32 vector of N), in float32."""
    x = x.astype(F32)
    q = F32(1) + x * x
    ring = F32(2) * x - np.roll(x, 1) - np.roll(x, -1)
    return (D * (x - C) + KAPPA * ring + S * x / (q * q)).astype(F32)


def loss(x):
    """Loss at x, exact in double, rounded to float32."""
    xs = [float(v) for v in x]
    terms = []
    for i in range(N):
        xi, prev = xs[i], xs[i - 1]
        terms.append(0.5 * float(D[i]) * (xi - float(C[i])) ** 2)
        terms.append(0.5 * float(KAPPA) * (xi - prev) ** 2)
        terms.append(-float(S[i]) / (2.0 * (1.0 + xi * xi)))
    return F32(math.fsum(terms))


def split(x):
    """The N-vector as the list of parameter tensors (views, C order)."""
    out, off = [], 0
    for shape, size in zip(SHAPES, SIZES):
        out.append(x[off:off + size].reshape(shape))
        off += size
    return out


def fmt_value(v):
    """A hyper value as text: shortest repr that reads back exactly."""
    return repr(float(v))


def write_fixture(path, rule, setting, source, hypers, p0, fs, gs, ps):
    """Writes one fixture: hypers is a list of (name, value) in .opt
    order; p0 the initial N-vector; fs, gs, ps per step the loss at the
    point the gradient was taken, the gradient, the parameters after."""
    assert len(fs) == len(gs) == len(ps) == STEPS
    chunks = [np.asarray(p0, dtype='<f4').tobytes()]
    for f, g, p in zip(fs, gs, ps):
        chunks.append(np.asarray([f], dtype='<f4').tobytes())
        chunks.append(np.asarray(g, dtype='<f4').tobytes())
        chunks.append(np.asarray(p, dtype='<f4').tobytes())
    payload = b''.join(chunks)
    assert len(payload) == 4 * (N + STEPS * (1 + 2 * N))
    head = ['optc-parity 1', 'rule ' + rule, 'setting ' + setting,
            'source ' + source]
    head += ['hyper %s=%s' % (k, fmt_value(v)) for k, v in hypers]
    head += ['tensor ' + ' '.join(str(d) for d in s) for s in SHAPES]
    head += ['steps %d' % STEPS, 'payload %d' % len(payload),
             'sha256 ' + hashlib.sha256(payload).hexdigest(), 'end']
    data = ('\n'.join(head) + '\n').encode('ascii') + payload
    tmp = path + '.tmp'
    with open(tmp, 'wb') as fh:
        fh.write(data)
    os.replace(tmp, path)


def run(step_fn, state):
    """Runs STEPS steps from X0: step_fn(state, x, f, g, t) returns the new
    float32 x.  Returns (fs, gs, ps)."""
    x = X0.copy()
    fs, gs, ps = [], [], []
    for t in range(1, STEPS + 1):
        g = grad(x)
        f = loss(x)
        x = np.asarray(step_fn(state, x.copy(), f, g.copy(), t), dtype=F32)
        assert np.all(np.isfinite(x)), 'trajectory diverged'
        fs.append(f)
        gs.append(g)
        ps.append(x.copy())
    return fs, gs, ps
