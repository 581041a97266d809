#!/usr/bin/python3
"""Independent NumPy references for the stdlib rules PyTorch 1.13 lacks,
written from each paper's pseudo-code (and the authors' code where the
paper leaves a detail open; each function names its source).

Run from the repository root:   /usr/bin/python3 tests/parity/reference.py
Numerics: tensors are float32 and every elementwise operation rounds to
float32 (NumPy, no FMA); per-step scalar coefficients (bias corrections,
schedules, trust ratios) are computed in double and rounded to float32
where they meet a tensor; reductions (norms, means) accumulate in double.
That is the arithmetic optc's sweeps and scalar stages use, so the
trajectories can be compared within a relative 1e-6.
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import problem  # noqa: E402

F32 = np.float32
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')


def s32(v):
    """A double scalar as it meets a float32 tensor."""
    return F32(v)


def pow32(x, k):
    """float32 x ** k, rounded once from libm's double pow (NumPy's own
    float32 power may use SIMD code that differs between CPUs)."""
    return np.array([math.pow(float(v), k) for v in x], dtype=F32)


def norm(x):
    return float(np.sqrt(np.sum(x.astype(np.float64) ** 2)))


def mean(x):
    return float(np.sum(x.astype(np.float64)) / x.size)


def per_tensor(fn):
    """Applies fn(h, st, p, g, t, f, k) to each parameter tensor k (the
    per-tensor reductions of LAMB, LARS, the cautious masks and FAdam's
    RMS work on one tensor) and reassembles the N-vector."""
    def step(h, st, x, f, g, t):
        out = []
        off = 0
        for k, size in enumerate(problem.SIZES):
            out.append(fn(h, st, x[off:off + size], g[off:off + size], t, f, k))
            off += size
        return np.concatenate(out)
    return step


def zeros(st, key, k, size):
    st.setdefault((key, k), np.zeros(size, dtype=F32))
    return st[(key, k)]


@per_tensor
def lion(h, st, p, g, t, f, k):
    """Chen et al. 2023, Algorithm 2 (decay applied first, as their code)."""
    m = zeros(st, 'm', k, p.size)
    p = p * s32(1 - h['lr'] * h['weight_decay'])
    c = s32(h['beta1']) * m + s32(1 - h['beta1']) * g
    p = p - s32(h['lr']) * np.sign(c)
    st[('m', k)] = s32(h['beta2']) * m + s32(1 - h['beta2']) * g
    return p


@per_tensor
def adabelief(h, st, p, g, t, f, k):
    """Zhuang et al. 2020, Algorithm 2 with decoupled decay."""
    m, s = zeros(st, 'm', k, p.size), zeros(st, 's', k, p.size)
    b1, b2, eps = h['beta1'], h['beta2'], h['eps']
    p = p * s32(1 - h['lr'] * h['weight_decay'])
    m = s32(b1) * m + s32(1 - b1) * g
    r = g - m
    s = s32(b2) * s + s32(1 - b2) * r * r + s32(eps)
    st[('m', k)], st[('s', k)] = m, s
    denom = np.sqrt(s) / s32(np.sqrt(1 - b2 ** t)) + s32(eps)
    return p - s32(h['lr'] / (1 - b1 ** t)) * (m / denom)


@per_tensor
def lamb(h, st, p, g, t, f, k):
    """You et al. 2020, Algorithm 2, phi = identity; ratio 1 on a zero norm."""
    m, v = zeros(st, 'm', k, p.size), zeros(st, 'v', k, p.size)
    b1, b2 = h['beta1'], h['beta2']
    m = s32(b1) * m + s32(1 - b1) * g
    v = s32(b2) * v + s32(1 - b2) * g * g
    st[('m', k)], st[('v', k)] = m, v
    mhat = m / s32(1 - b1 ** t)
    vhat = v / s32(1 - b2 ** t)
    u = mhat / (np.sqrt(vhat) + s32(h['eps'])) + s32(h['weight_decay']) * p
    wn, un = norm(p), norm(u)
    ratio = wn / un if wn > 0 and un > 0 else 1.0
    return p - s32(h['lr'] * ratio) * u


@per_tensor
def lars(h, st, p, g, t, f, k):
    """You, Gitman & Ginsburg 2017, Algorithm 1 (+ eps and the zero-norm
    fallback of Lightning Bolts)."""
    v = zeros(st, 'v', k, p.size)
    wd = h['weight_decay']
    wn, gn = norm(p), norm(g)
    if wn > 0 and gn > 0:
        local_lr = h['trust_coefficient'] * wn / (gn + wd * wn + h['eps'])
    else:
        local_lr = 1.0
    v = s32(h['momentum']) * v + s32(h['lr'] * local_lr) * (g + s32(wd) * p)
    st[('v', k)] = v
    return p - v


@per_tensor
def signsgd(h, st, p, g, t, f, k):
    """Bernstein et al. 2018, Algorithms 1 (momentum 0) and 3 (Signum)."""
    m = zeros(st, 'm', k, p.size)
    mom = h['momentum']
    m = s32(mom) * m + s32(1 - mom) * (g + s32(h['weight_decay']) * p)
    st[('m', k)] = m
    return p - s32(h['lr']) * np.sign(m)


def caution(u, g):
    """Liang et al. 2024: mask (u * g > 0) scaled by 1 / max(mean, 1e-3)."""
    mask = (u * g > 0).astype(F32)
    return mask / s32(max(mean(mask), 1e-3))


@per_tensor
def cautious_adamw(h, st, p, g, t, f, k):
    """Liang et al. 2024, C-AdamW as in the authors' c_adamw.py."""
    m, v = zeros(st, 'm', k, p.size), zeros(st, 'v', k, p.size)
    b1, b2, lr = h['beta1'], h['beta2'], h['lr']
    p = p - s32(lr * h['weight_decay']) * p
    m = s32(b1) * m + s32(1 - b1) * g
    v = s32(b2) * v + s32(1 - b2) * g * g
    st[('m', k)], st[('v', k)] = m, v
    denom = np.sqrt(v) + s32(h['eps'])
    step = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    return p - s32(step) * (m * caution(m, g) / denom)


@per_tensor
def cautious_lion(h, st, p, g, t, f, k):
    """Liang et al. 2024, C-Lion as in the authors' c_lion.py."""
    m = zeros(st, 'm', k, p.size)
    p = p * s32(1 - h['lr'] * h['weight_decay'])
    u = np.sign(s32(h['beta1']) * m + s32(1 - h['beta1']) * g)
    p = p - s32(h['lr']) * (u * caution(u, g))
    st[('m', k)] = s32(h['beta2']) * m + s32(1 - h['beta2']) * g
    return p


@per_tensor
def fadam(h, st, p, g, t, f, k):
    """Hwang 2024, Algorithm 1."""
    m, fim = zeros(st, 'm', k, p.size), zeros(st, 'fim', k, p.size)
    b1, b2, clip = h['beta1'], h['beta2'], h['clip_rms']
    b = b2 * (1 - b2 ** (t - 1)) / (1 - b2 ** t)
    fim = s32(b) * fim + s32(1 - b) * g * g
    fbase = pow32(fim, float(s32(h['fisher_power']))) + s32(h['eps'])
    gnat = g / fbase
    gnat = gnat / s32(max(1.0, np.sqrt(mean(gnat * gnat)) / clip))
    m = s32(b1) * m + s32(1 - b1) * gnat
    st[('m', k)], st[('fim', k)] = m, fim
    gw = p / fbase
    gw = gw / s32(max(1.0, np.sqrt(mean(gw * gw)) / clip))
    return p - s32(h['lr']) * (m + s32(h['weight_decay']) * gw)


def polyak(h, st, x, f, g, t):
    """Polyak 1987 / SPS_max (Loizou et al. 2021): one step for the group."""
    gg = float(np.sum(g.astype(np.float64) ** 2))
    step = (float(f) - h['f_star']) / (h['c'] * gg + h['eps'])
    step = min(max(step, 0.0), h['max_step'])
    return x - s32(step) * g


@per_tensor
def momentum(h, st, p, g, t, f, k):
    """Sutskever et al. 2013, eqs (1)-(4); Nesterov in the shifted form."""
    v = zeros(st, 'v', k, p.size)
    mu, lr = s32(h['mu']), s32(h['lr'])
    v = mu * v - lr * g
    st[('v', k)] = v
    return p + mu * v - lr * g if h['nesterov'] else p + v


RULES = {
    'lion': (lion, [('lr', 1e-4), ('beta1', 0.9), ('beta2', 0.99), ('weight_decay', 0)]),
    'adabelief': (adabelief, [('lr', 1e-3), ('beta1', 0.9), ('beta2', 0.999),
                              ('eps', 1e-16), ('weight_decay', 0)]),
    'lamb': (lamb, [('lr', 1e-3), ('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-6),
                    ('weight_decay', 0)]),
    'lars': (lars, [('lr', 1), ('momentum', 0.9), ('weight_decay', 5e-4),
                    ('trust_coefficient', 1e-3), ('eps', 1e-8)]),
    'signsgd': (signsgd, [('lr', 1e-2), ('momentum', 0), ('weight_decay', 0)]),
    'cautious_adamw': (cautious_adamw, [('lr', 1e-3), ('beta1', 0.9), ('beta2', 0.999),
                                        ('eps', 1e-6), ('weight_decay', 0)]),
    'cautious_lion': (cautious_lion, [('lr', 1e-4), ('beta1', 0.95), ('beta2', 0.98),
                                      ('weight_decay', 0)]),
    'fadam': (fadam, [('lr', 1e-3), ('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-8),
                      ('clip_rms', 1), ('fisher_power', 0.5), ('weight_decay', 0.1)]),
    'polyak': (polyak, [('f_star', 0), ('c', 1), ('max_step', float('inf')),
                        ('eps', 1e-12)]),
    'momentum': (momentum, [('lr', 1e-2), ('mu', 0.9), ('nesterov', 0)]),
}

# The problem's loss is bounded below by -sum(S)/2.
F_LOW = -float(np.sum(problem.S.astype(np.float64))) / 2

SETTINGS = [
    ('lion', 'lion_default', dict()),
    ('lion', 'lion_fast', dict(lr=1e-2, beta1=0.95, beta2=0.98)),
    ('lion', 'lion_wd', dict(lr=3e-3, weight_decay=0.5)),
    ('adabelief', 'adabelief_default', dict()),
    ('adabelief', 'adabelief_fast', dict(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-8)),
    ('adabelief', 'adabelief_wd', dict(lr=3e-3, weight_decay=0.1)),
    ('lamb', 'lamb_default', dict()),
    ('lamb', 'lamb_wd', dict(lr=1e-2, weight_decay=0.01)),
    ('lamb', 'lamb_betas', dict(lr=5e-3, beta1=0.5, beta2=0.9, eps=1e-8)),
    ('lars', 'lars_default', dict()),
    ('lars', 'lars_fast', dict(lr=20, momentum=0.5)),
    ('lars', 'lars_no_wd', dict(lr=5, weight_decay=0, trust_coefficient=0.01)),
    ('signsgd', 'signsgd_plain', dict()),
    ('signsgd', 'signsgd_wd', dict(lr=3e-3, weight_decay=0.1)),
    ('signsgd', 'signum', dict(lr=5e-3, momentum=0.9)),
    ('signsgd', 'signum_wd', dict(lr=2e-3, momentum=0.5, weight_decay=0.01)),
    ('cautious_adamw', 'cautious_adamw_default', dict()),
    ('cautious_adamw', 'cautious_adamw_wd', dict(lr=1e-2, weight_decay=0.1)),
    ('cautious_adamw', 'cautious_adamw_betas', dict(lr=3e-3, beta1=0.95, beta2=0.9,
                                                    eps=1e-8)),
    ('cautious_lion', 'cautious_lion_default', dict()),
    ('cautious_lion', 'cautious_lion_fast', dict(lr=1e-2, beta1=0.9, beta2=0.99)),
    ('cautious_lion', 'cautious_lion_wd', dict(lr=3e-3, weight_decay=0.5)),
    ('fadam', 'fadam_default', dict()),
    ('fadam', 'fadam_fast', dict(lr=1e-2, beta2=0.99, weight_decay=0.01)),
    ('fadam', 'fadam_power', dict(lr=3e-3, fisher_power=0.25, clip_rms=0.5, eps=1e-6)),
    ('polyak', 'polyak_capped', dict(f_star=F_LOW, max_step=0.1)),
    ('polyak', 'polyak_sps', dict(f_star=F_LOW, c=0.5, max_step=0.05)),
    ('polyak', 'polyak_zero_target', dict(max_step=0.02)),
    ('momentum', 'momentum_heavy_ball', dict()),
    ('momentum', 'momentum_nesterov', dict(nesterov=1)),
    ('momentum', 'momentum_slow', dict(lr=3e-2, mu=0.5, nesterov=1)),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    for rule, name, extra in SETTINGS:
        if only and name not in only:
            continue
        fn, defaults = RULES[rule]
        assert not set(extra) - {k for k, _ in defaults}, extra
        hypers = [(k, extra.get(k, v)) for k, v in defaults]
        h = dict(hypers)
        state = {}
        fs, gs, ps = problem.run(lambda st, x, f, g, t: fn(h, st, x, f, g, t), state)
        problem.write_fixture(os.path.join(OUT, name + '.fix'), rule + '.opt', name,
                              'numpy reference (tests/parity/reference.py)', hypers,
                              problem.X0, fs, gs, ps)
        print(name, 'max|p| %.3g' % float(np.max(np.abs(ps[-1]))),
              'f %.6g -> %.6g' % (fs[0], fs[-1]))


if __name__ == '__main__':
    main()
