/* hand_kernels.h: kernel descriptors written by hand in C, following the
 * ABI of runtime/include/optk.h exactly, so the runtime can be tested
 * without the compiler.  Each is what optc would emit for the .opt text
 * quoted in hand_kernels.c.  Header-only dependencies (optk.h), so the
 * file links into every unit test.
 */
#ifndef HAND_KERNELS_H
#define HAND_KERNELS_H

#include "optk.h"

/* SGD with momentum: m = mu m + g; p -= lr m.  Init plan sets m = 0. */
extern const OptkDescriptor hk_sgdm;
/* The same with m stored as bf16. */
extern const OptkDescriptor hk_sgdm_bf16;
/* Adam with bias corrections computed in a SCALAR function. */
extern const OptkDescriptor hk_adam;
/* Global-norm clipping: sweep 1 reduces sum g^2 over the group (COMBINE,
 * group scope) and max |g| per tensor (tensor scope, MAX); a SCALAR
 * keeps scalar states `calls` (init 5) and `gmax`; sweep 2 updates p. */
extern const OptkDescriptor hk_clip;
/* every k { h = g^2 } else { h = h / 2 }; p -= lr g / (1 + h): JUMP_IF_ZERO
 * and JUMP. */
extern const OptkDescriptor hk_everyk;
/* 2-D only: every MATOP into its own state (see hand_kernels.c). */
extern const OptkDescriptor hk_allmat;
extern const OptkDescriptor hk_means;
/* 2-D only: Shampoo-like: L = g g^T (f64), R = L^(-1/2), p -= lr R g. */
extern const OptkDescriptor hk_precond;
/* Newton: H = hessian(); d = solve(H, g); p -= d (one tensor per group). */
extern const OptkDescriptor hk_newton;
/* p -= lr * hvp(g). */
extern const OptkDescriptor hk_hvpstep;
/* d = -g; linesearch(d, armijo | wolfe); p already moved.  Slot 4 gets the
 * accepted step; hk_ls_bad uses d = +g (not a descent direction). */
extern const OptkDescriptor hk_ls_armijo, hk_ls_wolfe, hk_ls_bad;
/* Random tensors: p -= lr * (g + 0.5 rademacher() + 0.25 normal()). */
extern const OptkDescriptor hk_noise;
/* Reads f: p -= lr * f * g. */
extern const OptkDescriptor hk_lossy;
/* p += lr g, its sweep counting its calls and the longest [begin, end)
 * given; hk_chunks_seen returns both since the last call and resets them. */
extern const OptkDescriptor hk_chunks;
void hk_chunks_seen(int64_t *calls, int64_t *longest);

#endif
