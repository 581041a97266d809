#!/usr/bin/python3
"""Writes the PyTorch parity fixtures of tests/parity/fixtures/.

Run with Debian's python3 (python3-torch 1.13, python3-numpy), from the
repository root:   /usr/bin/python3 tests/parity/gen_torch.py
Every setting below is run for problem.STEPS steps on the problem of
problem.py with torch.optim's single-tensor code path (foreach=False),
one thread and ATEN_CPU_CAPABILITY=default (no FMA, no vector kernels),
so the output is byte-identical on any x86-64 machine with this torch.
Hyper names are those of the stdlib/*.opt file; every hyper of the file
is written, so a fixture does not depend on the file's defaults.
"""
import os
import sys

os.environ['ATEN_CPU_CAPABILITY'] = 'default'
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import problem  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')

# .opt hyper names, in file order, with the file's defaults.
OPT_HYPERS = {
    'sgd': [('lr', 1e-3), ('momentum', 0), ('dampening', 0), ('nesterov', 0),
            ('weight_decay', 0)],
    'adagrad': [('lr', 1e-2), ('lr_decay', 0), ('weight_decay', 0),
                ('initial_accumulator_value', 0), ('eps', 1e-10)],
    'rmsprop': [('lr', 1e-2), ('alpha', 0.99), ('eps', 1e-8), ('weight_decay', 0),
                ('momentum', 0), ('centered', 0)],
    'adadelta': [('lr', 1.0), ('rho', 0.9), ('eps', 1e-6), ('weight_decay', 0)],
    'adam': [('lr', 1e-3), ('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-8),
             ('weight_decay', 0)],
    'adamw': [('lr', 1e-3), ('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-8),
              ('weight_decay', 1e-2)],
    'amsgrad': [('lr', 1e-3), ('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-8),
                ('weight_decay', 0)],
    'adamax': [('lr', 2e-3), ('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-8),
               ('weight_decay', 0)],
    'nadam': [('lr', 2e-3), ('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-8),
              ('weight_decay', 0), ('momentum_decay', 4e-3)],
    'radam': [('lr', 1e-3), ('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-8),
              ('weight_decay', 0)],
    'clip': [('lr', 1e-3), ('max_norm', 1)],
    'adamw_clipped': [('lr', 1e-3), ('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-8),
                      ('weight_decay', 1e-2), ('max_grad_norm', 1)],
}


def _betas(h):
    return {'betas': (h['beta1'], h['beta2'])}


def _ctor(rule, params, h):
    """torch.optim object for rule with .opt hypers h."""
    if rule == 'clip':
        return torch.optim.SGD(params, lr=h['lr'], foreach=False)
    if rule == 'sgd':
        return torch.optim.SGD(params, lr=h['lr'], momentum=h['momentum'],
                               dampening=h['dampening'], nesterov=bool(h['nesterov']),
                               weight_decay=h['weight_decay'], foreach=False)
    if rule == 'adagrad':
        return torch.optim.Adagrad(params, lr=h['lr'], lr_decay=h['lr_decay'],
                                   weight_decay=h['weight_decay'], eps=h['eps'],
                                   initial_accumulator_value=h['initial_accumulator_value'],
                                   foreach=False)
    if rule == 'rmsprop':
        return torch.optim.RMSprop(params, lr=h['lr'], alpha=h['alpha'], eps=h['eps'],
                                   weight_decay=h['weight_decay'], momentum=h['momentum'],
                                   centered=bool(h['centered']), foreach=False)
    if rule == 'adadelta':
        return torch.optim.Adadelta(params, lr=h['lr'], rho=h['rho'], eps=h['eps'],
                                    weight_decay=h['weight_decay'], foreach=False)
    common = dict(lr=h['lr'], eps=h['eps'], weight_decay=h['weight_decay'], **_betas(h))
    if rule in ('adam', 'amsgrad'):
        return torch.optim.Adam(params, amsgrad=(rule == 'amsgrad'), foreach=False, **common)
    if rule in ('adamw', 'adamw_clipped'):
        return torch.optim.AdamW(params, foreach=False, **common)
    if rule == 'adamax':
        return torch.optim.Adamax(params, foreach=False, **common)
    if rule == 'nadam':
        return torch.optim.NAdam(params, momentum_decay=h['momentum_decay'],
                                 foreach=False, **common)
    if rule == 'radam':
        return torch.optim.RAdam(params, foreach=False, **common)
    raise ValueError(rule)


# (rule, setting name, hypers that differ from the file's defaults)
SETTINGS = [
    ('sgd', 'sgd_plain', dict(lr=0.05)),
    ('sgd', 'sgd_momentum', dict(lr=0.02, momentum=0.9)),
    ('sgd', 'sgd_nesterov', dict(lr=0.02, momentum=0.9, nesterov=1)),
    ('sgd', 'sgd_wd_dampening', dict(lr=0.03, momentum=0.8, dampening=0.3,
                                     weight_decay=0.05)),
    ('adagrad', 'adagrad_default', dict()),
    ('adagrad', 'adagrad_decay', dict(lr=0.1, lr_decay=0.01, weight_decay=0.01)),
    ('adagrad', 'adagrad_init_acc', dict(lr=0.05, initial_accumulator_value=0.5,
                                         eps=1e-6)),
    ('rmsprop', 'rmsprop_plain', dict()),
    ('rmsprop', 'rmsprop_centered', dict(lr=0.005, centered=1)),
    ('rmsprop', 'rmsprop_momentum', dict(lr=0.002, momentum=0.5, alpha=0.9)),
    ('rmsprop', 'rmsprop_centered_momentum_wd', dict(lr=0.003, alpha=0.95, momentum=0.9,
                                                     centered=1, weight_decay=0.01)),
    ('adadelta', 'adadelta_default', dict()),
    ('adadelta', 'adadelta_wd', dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=0.01)),
    ('adadelta', 'adadelta_short', dict(rho=0.5, eps=1e-4)),
    ('adam', 'adam_default', dict()),
    ('adam', 'adam_large_eps', dict(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-2)),
    ('adam', 'adam_wd', dict(lr=3e-3, beta1=0.95, beta2=0.9, weight_decay=0.05)),
    ('adamw', 'adamw_default', dict()),
    ('adamw', 'adamw_strong_wd', dict(lr=1e-2, weight_decay=0.1)),
    ('adamw', 'adamw_betas', dict(lr=3e-3, beta1=0.5, beta2=0.95, eps=1e-6)),
    ('amsgrad', 'amsgrad_default', dict()),
    ('amsgrad', 'amsgrad_wd', dict(lr=1e-2, weight_decay=0.01)),
    ('amsgrad', 'amsgrad_short_beta2', dict(lr=1e-2, beta1=0.5, beta2=0.8)),
    ('adamax', 'adamax_default', dict()),
    ('adamax', 'adamax_wd', dict(lr=1e-2, beta1=0.8, beta2=0.99, weight_decay=0.01)),
    ('adamax', 'adamax_eps', dict(lr=5e-3, eps=1e-4)),
    ('nadam', 'nadam_default', dict()),
    ('nadam', 'nadam_fast_decay', dict(lr=1e-2, momentum_decay=1e-2)),
    ('nadam', 'nadam_wd', dict(lr=5e-3, beta1=0.95, beta2=0.99, weight_decay=0.01)),
    ('radam', 'radam_default', dict()),
    ('radam', 'radam_fast', dict(lr=1e-2, beta2=0.99)),
    ('radam', 'radam_wd', dict(lr=5e-3, beta2=0.95, weight_decay=0.01)),
    ('clip', 'clip_sgd_tight', dict(lr=0.1, max_norm=5)),
    ('clip', 'clip_sgd_loose', dict(lr=0.02, max_norm=10)),
    ('adamw_clipped', 'adamw_clipped_default', dict()),
    ('adamw_clipped', 'adamw_clipped_loose', dict(lr=1e-2, max_grad_norm=5)),
]


def run_setting(rule, extra):
    hypers = [(k, extra.get(k, v)) for k, v in OPT_HYPERS[rule]]
    unknown = set(extra) - {k for k, _ in hypers}
    assert not unknown, unknown
    h = dict(hypers)
    params = [torch.nn.Parameter(torch.from_numpy(t.copy())) for t in
              problem.split(problem.X0.copy())]
    opt = _ctor(rule, params, h)

    def step(_state, x, f, g, t):
        for prm, gt in zip(params, problem.split(g)):
            prm.grad = torch.from_numpy(gt.copy())
        if rule == 'adamw_clipped':
            torch.nn.utils.clip_grad_norm_(params, h['max_grad_norm'])
        if rule == 'clip':
            torch.nn.utils.clip_grad_norm_(params, h['max_norm'])
        opt.step()
        return np.concatenate([prm.detach().numpy().ravel() for prm in params])

    return hypers, problem.run(step, None)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    for rule, name, extra in SETTINGS:
        if only and name not in only:
            continue
        hypers, (fs, gs, ps) = run_setting(rule, extra)
        src = 'torch %s torch.optim (foreach=False)' % torch.__version__
        if rule in ('clip', 'adamw_clipped'):
            src += ' with torch.nn.utils.clip_grad_norm_'
        problem.write_fixture(os.path.join(OUT, name + '.fix'), rule + '.opt', name,
                              src, hypers, problem.X0, fs, gs, ps)
        print(name, 'max|p| %.3g' % float(np.max(np.abs(ps[-1]))),
              'f %.6g -> %.6g' % (fs[0], fs[-1]))


if __name__ == '__main__':
    main()
