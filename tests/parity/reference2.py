#!/usr/bin/python3
"""Independent NumPy references for the second-order and matrix rules of
the stdlib (sophia, sophia_gnb, adahessian, adahessian_spatial, sania,
muon, shampoo, soap, adafactor, adafactor_vector), written from each
paper's pseudo-code; the rule files name the papers and the reference
implementations whose defaults they use.

Run from the repository root:   /usr/bin/python3 tests/parity/reference2.py
It writes tests/parity/fixtures2/*.fix (the format of README.md) and, for
the rules that call hvp, a sidecar *.hvp with the Hessian-vector products
the reference computed, in call order (format below), which
tests/unit/e2e_rules2.c feeds back as the host's hvp, as it feeds the
recorded gradients; for sophia_gnb, a sidecar *.gnb (same format, first
line `optc-gnb 1`) with the Gauss-Newton-Bartlett gradients g_hat the
reference drew, fed back as the host's gnb_grad.  Deterministic: a rerun
rewrites the files byte for byte.

Numerics, as reference.py: tensors are float32 and every elementwise
operation rounds to float32; per-step scalars are computed in double and
rounded to float32 where they meet a tensor; reductions accumulate in
double.  Matrix products, eigendecompositions and inverse roots are
computed in double from the float32 (or float64, for f64 states) operands
and rounded to the destination's type once.

Problems.  `vector`: problem.py's problem (tensors 3x11 and 19) for the
elementwise rules.  `wide`: the same loss on two 2-D tensors 4x9 and 6x3
(Muon's shape scale differs between them; Adafactor's row and column
factors are both non-trivial).  `square`: tensors 6x6 and 4x4, for Shampoo
and SOAP, whose left and right factors have full rank from the first step
on (a rank-deficient factor has an eigenbasis that is arbitrary on its
null space, which two correct implementations may choose differently).
`square_noisy`: `square` with a stochastic gradient, for SOAP: the
gradient fed at step t is the exact one plus row t of a fixed table of
N(0, 1) draws (seed 20241126), as minibatch gradients differ from step to
step.  SOAP's step 1 does not move p, so with an exact gradient g_2 = g_1
and step 2 projects g_1 on the eigenbasis of g_1 g_1' (and g_1' g_1),
which diagonalises it: the entries off the diagonal are rounding noise
(1e-10 to 1e-7), and Adam's m / (sqrt(v) + eps) turns them into steps of
full size, whose signs depend on the last bit of every product (float32
and float64 NumPy differ by over 4000x the tolerance).  With the noise
every rotated entry is O(1), and the trajectory is well conditioned: the
same references in float64 arithmetic (parameters stored in float32 once
per step) stay within 0.42 (soap_default) and 0.18 (soap_k1) of the
tolerance.

`conv`: two convolution kernels, 4x3x3x3 and 2x3x2x2 (out, in, kh, kw),
which optc holds as their (out*in) x (kh*kw) views, 12x9 and 6x4 (C order,
so the flat vector is the same); the loss is problem.py's on that vector.
adahessian_spatial's reference keeps the kernels 4-D and averages |z * Hz|
over dims [2, 3] with keepdim, as github.com/amirgholami/adahessian
(optim_adahessian.py) does for 4-D parameters, broadcasting it back.

Gauss-Newton-Bartlett samples.  The problems have no labels to sample, so
the reference draws each g_hat as a sample with the statistics the
estimator has: g_hat = sqrt(max(diag H(x), 0) / bs) * z, z ~ N(0, I) from
numpy.random.RandomState(GNB_SEED) (one stream per run, one vector per
call), so E[bs * g_hat^2] is the Hessian diagonal, as E[B * g_hat^2] is
the Gauss-Newton diagonal for labels drawn from the model (Algorithm 2).

Random tensors.  sophia (normal()) and adahessian (rademacher()) draw
their probes from optc's counter-based generator (runtime/include/optk.h:
optk_rng_key, optk_rng_u64, optk_normal_uniforms), reproduced here with
seed SEED, the tensors' ids 0 and 1 and call site 0.

Sidecar format (version 1): ASCII lines `optc-hvp 1`, `setting NAME`,
`calls K`, `n N`, `payload BYTES`, `sha256 HEX`, `end`, then K * N
little-endian float32: the product H(x) v of each hvp call, x the
reference's parameters at that call and v its probe.
"""
import hashlib
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import problem  # noqa: E402

F32 = np.float32
F64 = np.float64
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures2')
STEPS = problem.STEPS
SEED = 7  # OptrtConfig.seed of e2e_rules2.c
M64 = (1 << 64) - 1


# ---- problems ---------------------------------------------------------------

class Problem:
    """problem.py's loss on tensors of the given shapes; constants drawn
    from `seed` as problem.py draws its own."""

    def __init__(self, name, shapes, seed=None, noise=0.0):
        self.name = name
        self.shapes = shapes
        self.sizes = [int(np.prod(s)) for s in shapes]
        self.n = sum(self.sizes)
        if seed is None:
            self.x0, self.c, self.d, self.s = problem.X0, problem.C, problem.D, problem.S
        else:
            rs = np.random.RandomState(seed)
            n = self.n
            self.x0 = rs.standard_normal(n).astype(F32)
            self.c = rs.standard_normal(n).astype(F32)
            self.d = np.array([10.0 ** e for e in np.linspace(-2.0, 1.0, n)])[
                rs.permutation(n)].astype(F32)
            self.s = rs.uniform(0.5, 2.0, n).astype(F32)
        self.kappa = problem.KAPPA
        self.noise = None
        if noise:
            rs = np.random.RandomState(seed + 1)
            self.noise = (noise * rs.standard_normal((STEPS, self.n))).astype(F32)

    def grad(self, x, t):
        """The gradient fed at step t: exact (in float32), plus the step's
        noise row for a stochastic problem."""
        x = x.astype(F32)
        q = F32(1) + x * x
        ring = F32(2) * x - np.roll(x, 1) - np.roll(x, -1)
        g = (self.d * (x - self.c) + self.kappa * ring + self.s * x / (q * q)).astype(F32)
        return g if self.noise is None else (g + self.noise[t - 1]).astype(F32)

    def loss(self, x):
        xs = [float(v) for v in x]
        terms = []
        for i in range(self.n):
            xi, prev = xs[i], xs[i - 1]
            terms.append(0.5 * float(self.d[i]) * (xi - float(self.c[i])) ** 2)
            terms.append(0.5 * float(self.kappa) * (xi - prev) ** 2)
            terms.append(-float(self.s[i]) / (2.0 * (1.0 + xi * xi)))
        return F32(math.fsum(terms))

    def hvp(self, x, v):
        """H(x) v in double, rounded to float32: the diagonal d + s (1 - 3
        x^2) / (1 + x^2)^3 plus the ring kappa (2 v - v_{i-1} - v_{i+1})."""
        x = x.astype(F64)
        v = v.astype(F64)
        q = 1.0 + x * x
        diag = self.d.astype(F64) + self.s.astype(F64) * (1.0 - 3.0 * x * x) / (q * q * q)
        ring = float(self.kappa) * (2.0 * v - np.roll(v, 1) - np.roll(v, -1))
        return (diag * v + ring).astype(F32)

    def hess_diag(self, x):
        """The diagonal of H(x) in double."""
        x = x.astype(F64)
        q = 1.0 + x * x
        return (self.d.astype(F64) + self.s.astype(F64) * (1.0 - 3.0 * x * x) / (q * q * q)
                + 2.0 * float(self.kappa))

    def split(self, x):
        out, off = [], 0
        for shape, size in zip(self.shapes, self.sizes):
            out.append(x[off:off + size].reshape(shape))
            off += size
        return out


VECTOR = Problem('vector', problem.SHAPES)
WIDE = Problem('wide', [(4, 9), (6, 3)], seed=20241124)
SQUARE = Problem('square', [(6, 6), (4, 4)], seed=20241125)
CONV = Problem('conv', [(12, 9), (6, 4)], seed=20241127)
CONV_KERNELS = [(4, 3, 3, 3), (2, 3, 2, 2)]  # CONV's tensors as 4-D kernels
GNB_SEED = 20241128
NOISY = Problem('square_noisy', [(6, 6), (4, 4)], seed=20241125, noise=1.0)


# ---- optc's random numbers (optk.h) -----------------------------------------

def mix64(x):
    x = int(x) & M64
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & M64
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & M64
    x ^= x >> 31
    return x


def rng_key(seed, step, tensor, site):
    k = mix64(seed ^ 0x9e3779b97f4a7c15)
    k = mix64(k ^ ((step * 0xd1b54a32d192ed03) & M64))
    k = mix64(k ^ ((tensor * 0xaef17502108ef2d9) & M64))
    return mix64(k ^ ((site * 0x9e3779b97f4a7c15) & M64))


def draws(step, tensor, site, count):
    key = rng_key(SEED, step, tensor, site)
    return [mix64(key + i * 0x9e3779b97f4a7c15) for i in range(count)]


def rademacher(step, tensor, site, count):
    return np.array([-1.0 if x >> 63 else 1.0 for x in draws(step, tensor, site, count)],
                    dtype=F32)


def normal(step, tensor, site, count):
    out = []
    for x in draws(step, tensor, site, count):
        u1 = ((x >> 40) + 1.0) * (1.0 / 16777216.0)
        u2 = ((x >> 16) & 0xffffff) * (1.0 / 16777216.0)
        out.append(math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2))
    return np.array(out, dtype=F32)


def probe(kind, prob, step):
    """The group's probe: one draw per tensor (ids 0, 1), call site 0."""
    fn = normal if kind == 'normal' else rademacher
    return np.concatenate([fn(step, k, 0, size) for k, size in enumerate(prob.sizes)])


# ---- helpers ----------------------------------------------------------------

def s32(v):
    return F32(v)


def flat(xs):
    return np.concatenate([a.reshape(-1) for a in xs])


def norm(x):
    return float(np.sqrt(np.sum(x.astype(F64) ** 2)))


def mean(x):
    return float(np.sum(x.astype(F64)) / x.size)


def mm(a, b):
    """Matrix product in double, rounded to float32."""
    return (a.astype(F64) @ b.astype(F64)).astype(F32)


def eigh(a):
    w, v = np.linalg.eigh(a.astype(F64))
    return w, v


def inv_root(a, k, eps=0.0):
    """a^(-1/k) = V diag(max(w, eps)^(-1/k)) V' (interp.h's INV_ROOT)."""
    w, v = eigh(a)
    w = np.maximum(w, eps)
    with np.errstate(divide='ignore'):
        r = np.where(w > 0, w ** (-1.0 / k), np.inf)
    return (v * r) @ v.T


def eigvecs(a):
    return eigh(a)[1]


# ---- the rules (one step on one tensor, or on the group) --------------------

def sophia(h, st, xs, gs, f, t, hv):
    """Liu et al. 2024, Algorithm 3 with the Hutchinson estimator."""
    if (t - 1) % int(h['k']) == 0:
        u = probe('normal', st['prob'], t)
        hu = hv(flat(xs), u)
        us = st['prob'].split(u)
        hus = st['prob'].split(hu)
    out = []
    for k, (x, g) in enumerate(zip(xs, gs)):
        m = st.setdefault(('m', k), np.zeros_like(g))
        hh = st.setdefault(('h', k), np.zeros_like(g))
        m = s32(h['beta1']) * m + s32(1 - h['beta1']) * g
        if (t - 1) % int(h['k']) == 0:
            hh = s32(h['beta2']) * hh + s32(1 - h['beta2']) * us[k] * hus[k]
        x = x - s32(h['lr'] * h['weight_decay']) * x
        ratio = m / np.maximum(s32(h['rho']) * hh, s32(h['eps']))
        x = x - s32(h['lr']) * np.clip(ratio, F32(-1), F32(1))
        st[('m', k)], st[('h', k)] = m, hh
        out.append(x)
    return out


def sophia_gnb(h, st, xs, gs, f, t, hv):
    """Liu et al. 2024, Algorithm 3 with the Gauss-Newton-Bartlett
    estimator, as SophiaG (sophia.py) steps: decoupled decay, then
    p -= lr sign(m) min(|m| / (rho bs h + eps), 1)."""
    refresh = (t - 1) % int(h['k']) == 0
    if refresh:
        ghs = st['prob'].split(st['gnb'](flat(xs), h['bs']))
    out = []
    for k, (x, g) in enumerate(zip(xs, gs)):
        m = st.setdefault(('m', k), np.zeros_like(g))
        hh = st.setdefault(('h', k), np.zeros_like(g))
        if refresh:
            hh = s32(h['beta2']) * hh + s32(1 - h['beta2']) * ghs[k] * ghs[k]
        x = x * s32(1 - h['lr'] * h['weight_decay'])
        m = s32(h['beta1']) * m + s32(1 - h['beta1']) * g
        ratio = np.minimum(np.abs(m) / (s32(h['rho'] * h['bs']) * hh + s32(h['eps'])), F32(1))
        x = x - s32(h['lr']) * np.sign(m) * ratio
        st[('m', k)], st[('h', k)] = m, hh
        out.append(x)
    return out


def adahessian_spatial(h, st, xs, gs, f, t, hv):
    """adahessian on 4-D conv kernels with the reference's spatial
    averaging: D = mean of |z * Hz| over dims [2, 3], keepdim, broadcast."""
    z = probe('rademacher', st['prob'], t)
    hz = hv(flat(xs), z)
    zs, hzs = st['prob'].split(z), st['prob'].split(hz)
    out = []
    for k, (x, g) in enumerate(zip(xs, gs)):
        shape = CONV_KERNELS[k]
        x4, g4 = x.reshape(shape), g.reshape(shape)
        m = st.setdefault(('m', k), np.zeros_like(g4))
        v = st.setdefault(('v', k), np.zeros_like(g4))
        dd = np.abs(zs[k].reshape(shape) * hzs[k].reshape(shape))
        dd = (np.sum(dd.astype(F64), axis=(2, 3), keepdims=True) / (shape[2] * shape[3])).astype(F32)
        m = s32(h['beta1']) * m + s32(1 - h['beta1']) * g4
        v = s32(h['beta2']) * v + s32(1 - h['beta2']) * dd * dd
        base = np.sqrt(v) / s32(math.sqrt(1 - h['beta2'] ** t))
        denom = pow32(base, h['hessian_power']) + s32(h['eps'])
        x4 = x4 - s32(h['lr']) * (m / s32(1 - h['beta1'] ** t) / denom + s32(h['weight_decay']) * x4)
        st[('m', k)], st[('v', k)] = m, v
        out.append(x4.reshape(x.shape))
    return out


def adahessian(h, st, xs, gs, f, t, hv):
    """Yao et al. 2021, Algorithm 1; |z * Hz| as the authors' code."""
    z = probe('rademacher', st['prob'], t)
    hz = hv(flat(xs), z)
    zs, hzs = st['prob'].split(z), st['prob'].split(hz)
    out = []
    for k, (x, g) in enumerate(zip(xs, gs)):
        m = st.setdefault(('m', k), np.zeros_like(g))
        v = st.setdefault(('v', k), np.zeros_like(g))
        dd = np.abs(zs[k] * hzs[k])
        m = s32(h['beta1']) * m + s32(1 - h['beta1']) * g
        v = s32(h['beta2']) * v + s32(1 - h['beta2']) * dd * dd
        base = np.sqrt(v) / s32(math.sqrt(1 - h['beta2'] ** t))
        denom = pow32(base, h['hessian_power']) + s32(h['eps'])
        x = x - s32(h['lr']) * (m / s32(1 - h['beta1'] ** t) / denom + s32(h['weight_decay']) * x)
        st[('m', k)], st[('v', k)] = m, v
        out.append(x)
    return out


def pow32(x, k):
    flat = [math.pow(float(v), k) for v in x.reshape(-1)]
    return np.array(flat, dtype=F32).reshape(x.shape)


def sania(h, st, xs, gs, f, t, hv):
    """Abdukhakimov et al. 2023, eq. (9) with Adam-SQR / AdaGrad-SQR."""
    qs = []
    for k, g in enumerate(gs):
        b = st.setdefault(('B', k), np.zeros_like(g))
        if h['beta2'] < 1:
            b = s32(h['beta2']) * b + s32(1 - h['beta2']) * g * g
            bh = b / s32(1 - h['beta2'] ** t)
        else:
            b = b + g * g
            bh = b
        st[('B', k)] = b
        qs.append(g / (bh + s32(h['eps'])))
    gq = sum(float(np.sum(g.astype(F64) * q.astype(F64))) for g, q in zip(gs, qs))
    step = max(float(f) - h['f_star'], 0.0) / max(gq, h['eps'])
    return [x - s32(step) * q for x, q in zip(xs, qs)]


NS = (3.4445, -4.7750, 2.0315)


def newton_schulz(u, steps=5):
    """Muon's quintic iteration on X = u / (|u| + 1e-7)."""
    a, b, c = NS
    x = u / s32(norm(u) + 1e-7)
    for _ in range(steps):
        am = mm(x, x.T)
        bm = s32(b) * am + mm(s32(c) * am, am)
        x = s32(a) * x + mm(bm, x)
    return x


def muon(h, st, xs, gs, f, t, hv):
    """Jordan et al. 2024 (muon.py's muon_update, Nesterov)."""
    out = []
    for k, (x, g) in enumerate(zip(xs, gs)):
        m = st.setdefault(('m', k), np.zeros_like(g))
        m = s32(h['beta']) * m + s32(1 - h['beta']) * g
        u = s32(1 - h['beta']) * g + s32(h['beta']) * m
        xo = newton_schulz(u)
        rows, cols = g.shape
        x = x - s32(h['lr'] * h['weight_decay']) * x
        x = x - s32(h['lr'] * math.sqrt(max(1.0, rows / cols))) * xo
        st[('m', k)] = m
        out.append(x)
    return out


def shampoo(h, st, xs, gs, f, t, hv):
    """Gupta et al. 2018, Algorithm 1, with Adam grafting."""
    out = []
    for k, (x, g) in enumerate(zip(xs, gs)):
        rows, cols = g.shape
        lf = st.setdefault(('L', k), np.zeros((rows, rows)))
        rf = st.setdefault(('R', k), np.zeros((cols, cols)))
        m = st.setdefault(('m', k), np.zeros_like(g))
        v = st.setdefault(('v', k), np.zeros_like(g))
        g64 = g.astype(F64)
        lf = lf + g64 @ g64.T
        rf = rf + g64.T @ g64
        if (t - 1) % int(h['k']) == 0:
            st[('Li', k)] = inv_root(lf + h['eps'] * np.eye(rows), 4).astype(F32)
            st[('Ri', k)] = inv_root(rf + h['eps'] * np.eye(cols), 4).astype(F32)
        v = s32(h['beta2']) * v + s32(1 - h['beta2']) * g * g
        a = g / (np.sqrt(v / s32(1 - h['beta2'] ** t)) + s32(h['graft_eps']))
        s = mm(mm(st[('Li', k)], g), st[('Ri', k)])
        s = s * s32(norm(a) / max(norm(s), 1e-30))
        m = s32(h['beta1']) * m + s32(1 - h['beta1']) * s
        x = x - s32(h['lr']) * m
        st[('L', k)], st[('R', k)], st[('m', k)], st[('v', k)] = lf, rf, m, v
        out.append(x)
    return out


def soap(h, st, xs, gs, f, t, hv):
    """Vyas et al. 2025, Algorithm 3 as soap.py runs it: step 1 only feeds
    the factors and computes the first basis, p does not move; step t > 1
    is Adam step s = t - 1 in the basis of the factors before g was added,
    then g enters the factors, and the basis is refreshed when k divides
    s = t - 1 (step 1 included).
    """
    out = []
    sb = h['shampoo_beta']
    for k, (x, g) in enumerate(zip(xs, gs)):
        rows, cols = g.shape
        lf = st.setdefault(('L', k), np.zeros((rows, rows)))
        rf = st.setdefault(('R', k), np.zeros((cols, cols)))
        m = st.setdefault(('m', k), np.zeros_like(g))
        v = st.setdefault(('v', k), np.zeros_like(g))
        if t > 1:
            s = t - 1
            ql, qr = st[('QL', k)], st[('QR', k)]
            m = s32(h['beta1']) * m + s32(1 - h['beta1']) * g
            gr = mm(mm(ql.T, g), qr)
            mr = mm(mm(ql.T, m), qr)
            v = s32(h['beta2']) * v + s32(1 - h['beta2']) * gr * gr
            n = mm(mm(ql, mr / (np.sqrt(v) + s32(h['eps']))), qr.T)
            # (x - a n) (1 - b) = x - (a (1 - b) n + b x): the step, then the
            # decay of its result, rounded once at x's scale.  Rounding x
            # twice repeats the same error each step (b x moves x by a
            # nearly constant fraction of an ulp) and drifts by 1.1x the
            # tolerance in 46 steps from a single rounding (optc's).
            a = h['lr'] * math.sqrt(1 - h['beta2'] ** s) / (1 - h['beta1'] ** s)
            b = h['lr'] * h['weight_decay']
            x = x - (s32(a * (1 - b)) * n + s32(b) * x)
        g64 = g.astype(F64)
        lf = sb * lf + (1 - sb) * (g64 @ g64.T)
        rf = sb * rf + (1 - sb) * (g64.T @ g64)
        if (t - 1) % int(h['k']) == 0:
            st[('QL', k)] = eigvecs(lf).astype(F32)
            st[('QR', k)] = eigvecs(rf).astype(F32)
        st[('L', k)], st[('R', k)], st[('m', k)], st[('v', k)] = lf, rf, m, v
        out.append(x)
    return out


def adafactor_common(h, t, x):
    alpha = max(h['eps2'], norm(x) / math.sqrt(x.size)) * min(1e-2, 1 / math.sqrt(t))
    return alpha, 1 - t ** h['decay_rate']


def adafactor_finish(h, x, u, alpha):
    u = u / s32(max(1.0, norm(u) / math.sqrt(u.size) / h['clip_threshold']))
    x = x - s32(h['weight_decay'] * alpha) * x
    return x - s32(alpha) * u


def adafactor(h, st, xs, gs, f, t, hv):
    """Shazeer & Stern 2018, Algorithm 4 with relative step and clipping."""
    out = []
    for k, (x, g) in enumerate(zip(xs, gs)):
        rows, cols = g.shape
        r = st.setdefault(('R', k), np.zeros((rows, 1), dtype=F32))
        c = st.setdefault(('C', k), np.zeros((1, cols), dtype=F32))
        alpha, b = adafactor_common(h, t, x)
        sq = g * g + s32(h['eps1'])
        rm = (np.sum(sq.astype(F64), axis=1, keepdims=True) / cols).astype(F32)
        cm = (np.sum(sq.astype(F64), axis=0, keepdims=True) / rows).astype(F32)
        r = s32(b) * r + s32(1 - b) * rm
        c = s32(b) * c + s32(1 - b) * cm
        rf = F32(1) / np.sqrt(r / s32(mean(r)))
        cf = F32(1) / np.sqrt(c)
        u = g * rf * cf
        st[('R', k)], st[('C', k)] = r, c
        out.append(adafactor_finish(h, x, u, alpha))
    return out


def adafactor_vector(h, st, xs, gs, f, t, hv):
    """Shazeer & Stern 2018, Algorithm 5 (unfactored)."""
    out = []
    for k, (x, g) in enumerate(zip(xs, gs)):
        v = st.setdefault(('v', k), np.zeros_like(g))
        alpha, b = adafactor_common(h, t, x)
        v = s32(b) * v + s32(1 - b) * (g * g + s32(h['eps1']))
        u = g / np.sqrt(v)
        st[('v', k)] = v
        out.append(adafactor_finish(h, x, u, alpha))
    return out


# ---- settings ---------------------------------------------------------------

SOPHIA = [('lr', 1e-4), ('beta1', 0.965), ('beta2', 0.99), ('rho', 0.04),
          ('weight_decay', 0.1), ('eps', 1e-15), ('k', 10.0)]
SOPHIA_GNB = SOPHIA + [('bs', 5120.0)]
ADAHESSIAN = [('lr', 0.15), ('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-4),
              ('weight_decay', 0.0), ('hessian_power', 1.0)]
SANIA = [('f_star', 0.0), ('beta2', 0.999), ('eps', 1e-10)]
MUON = [('lr', 0.02), ('beta', 0.95), ('weight_decay', 0.0)]
SHAMPOO = [('lr', 1e-3), ('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-6),
           ('graft_eps', 1e-10), ('k', 10.0)]
SOAP = [('lr', 3e-3), ('beta1', 0.95), ('beta2', 0.95), ('shampoo_beta', 0.95),
        ('eps', 1e-8), ('weight_decay', 0.01), ('k', 10.0)]
ADAFACTOR = [('eps1', 1e-30), ('eps2', 1e-3), ('clip_threshold', 1.0),
             ('decay_rate', -0.8), ('weight_decay', 0.0)]


def with_(base, **kw):
    return [(k, kw.get(k, v)) for k, v in base]


# setting -> (rule file, step function, problem, hypers)
SETTINGS = {
    'sophia_default': ('sophia.opt', sophia, VECTOR, with_(SOPHIA, lr=1e-2)),
    'sophia_rho5': ('sophia.opt', sophia, VECTOR, with_(SOPHIA, lr=3e-2, rho=5.0)),
    'sophia_k3': ('sophia.opt', sophia, VECTOR, with_(SOPHIA, lr=3e-2, k=3.0, rho=1.0)),
    'sophia_gnb_default': ('sophia_gnb.opt', sophia_gnb, VECTOR, with_(SOPHIA_GNB, lr=1e-2)),
    'sophia_gnb_k3': ('sophia_gnb.opt', sophia_gnb, VECTOR,
                      with_(SOPHIA_GNB, lr=3e-2, k=3.0, rho=1.0, bs=16.0)),
    'sophia_gnb_rho5': ('sophia_gnb.opt', sophia_gnb, VECTOR,
                        with_(SOPHIA_GNB, lr=3e-2, rho=5.0, bs=64.0, weight_decay=0.0)),
    'adahessian_default': ('adahessian.opt', adahessian, VECTOR, ADAHESSIAN),
    'adahessian_spatial_default': ('adahessian_spatial.opt', adahessian_spatial, CONV, ADAHESSIAN),
    'adahessian_spatial_power': ('adahessian_spatial.opt', adahessian_spatial, CONV,
                                 with_(ADAHESSIAN, hessian_power=0.5, weight_decay=1e-3)),
    'adahessian_power': ('adahessian.opt', adahessian, VECTOR,
                         with_(ADAHESSIAN, hessian_power=0.5, weight_decay=1e-3)),
    'sania_adam_sqr': ('sania.opt', sania, VECTOR, with_(SANIA, f_star=-21.0, eps=0.1)),
    'sania_adagrad_sqr': ('sania.opt', sania, VECTOR, with_(SANIA, f_star=-21.0, eps=0.1, beta2=1.0)),
    'muon_default': ('muon.opt', muon, WIDE, MUON),
    'muon_wd': ('muon.opt', muon, WIDE, with_(MUON, lr=0.01, beta=0.9, weight_decay=0.1)),
    'shampoo_default': ('shampoo.opt', shampoo, SQUARE, with_(SHAMPOO, lr=1e-2)),
    'shampoo_k1': ('shampoo.opt', shampoo, SQUARE, with_(SHAMPOO, lr=1e-2, k=1.0)),
    'soap_default': ('soap.opt', soap, NOISY, SOAP),
    'soap_k1': ('soap.opt', soap, NOISY, with_(SOAP, k=1.0, weight_decay=0.0)),
    'adafactor_default': ('adafactor.opt', adafactor, WIDE, ADAFACTOR),
    'adafactor_clip': ('adafactor.opt', adafactor, WIDE,
                       with_(ADAFACTOR, clip_threshold=0.5, weight_decay=0.01)),
    'adafactor_vector_default': ('adafactor_vector.opt', adafactor_vector, VECTOR, ADAFACTOR),
}


# ---- running and writing ----------------------------------------------------

def run(fn, prob, hypers):
    h = dict(hypers)
    st = {'prob': prob}
    calls, gnb_calls = [], []
    rs = np.random.RandomState(GNB_SEED)

    def hv(x, v):
        out = prob.hvp(x, v)
        calls.append(out)
        return out

    def gnb(x, bs):
        z = rs.standard_normal(prob.n)
        out = (np.sqrt(np.maximum(prob.hess_diag(x), 0.0) / bs) * z).astype(F32)
        gnb_calls.append(out)
        return out

    st['gnb'] = gnb

    x = prob.x0.copy()
    fs, gs, ps = [], [], []
    for t in range(1, STEPS + 1):
        g = prob.grad(x, t)
        f = prob.loss(x)
        xs = [a.copy() for a in prob.split(x)]
        new = fn(h, st, xs, prob.split(g.copy()), f, t, hv)
        x = np.concatenate([a.reshape(-1) for a in new]).astype(F32)
        assert np.all(np.isfinite(x)), 'trajectory diverged'
        fs.append(f)
        gs.append(g)
        ps.append(x.copy())
    return fs, gs, ps, calls, gnb_calls


def fmt_value(v):
    return repr(float(v))


def write_atomic(path, data):
    tmp = path + '.tmp'
    with open(tmp, 'wb') as fh:
        fh.write(data)
    os.replace(tmp, path)


def write_fixture(path, rule, setting, prob, hypers, fs, gs, ps):
    chunks = [np.asarray(prob.x0, dtype='<f4').tobytes()]
    for f, g, p in zip(fs, gs, ps):
        chunks += [np.asarray([f], dtype='<f4').tobytes(), np.asarray(g, dtype='<f4').tobytes(),
                   np.asarray(p, dtype='<f4').tobytes()]
    payload = b''.join(chunks)
    assert len(payload) == 4 * (prob.n + STEPS * (1 + 2 * prob.n))
    head = ['optc-parity 1', 'rule ' + rule, 'setting ' + setting,
            'source numpy %s reference2.py (%s problem)' % (np.__version__, prob.name)]
    head += ['hyper %s=%s' % (k, fmt_value(v)) for k, v in hypers]
    head += ['tensor ' + ' '.join(str(d) for d in s) for s in prob.shapes]
    head += ['steps %d' % STEPS, 'payload %d' % len(payload),
             'sha256 ' + hashlib.sha256(payload).hexdigest(), 'end']
    write_atomic(path, ('\n'.join(head) + '\n').encode('ascii') + payload)


def write_hvp(path, setting, n, calls, magic='optc-hvp 1'):
    payload = b''.join(np.asarray(c, dtype='<f4').tobytes() for c in calls)
    head = [magic, 'setting ' + setting, 'calls %d' % len(calls), 'n %d' % n,
            'payload %d' % len(payload), 'sha256 ' + hashlib.sha256(payload).hexdigest(), 'end']
    write_atomic(path, ('\n'.join(head) + '\n').encode('ascii') + payload)


def main(names):
    os.makedirs(OUT, exist_ok=True)
    for name in names or sorted(SETTINGS):
        rule, fn, prob, hypers = SETTINGS[name]
        fs, gs, ps, calls, gnb_calls = run(fn, prob, hypers)
        write_fixture(os.path.join(OUT, name + '.fix'), rule, name, prob, hypers, fs, gs, ps)
        if calls:
            write_hvp(os.path.join(OUT, name + '.hvp'), name, prob.n, calls)
        if gnb_calls:
            write_hvp(os.path.join(OUT, name + '.gnb'), name, prob.n, gnb_calls, 'optc-gnb 1')
        print('%-28s %s  final loss %.6g  hvp calls %d  gnb calls %d'
              % (name, rule, float(fs[-1]), len(calls), len(gnb_calls)))


if __name__ == '__main__':
    main(sys.argv[1:])
