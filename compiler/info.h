/* info.h: what `optc info` reports about a scheduled program.
 *
 * Text form, one `key: value` per line, in this order:
 *   name: adamw
 *   needs: none                       (or a comma list: loss, hvp, hessian,
 *                                      linesearch, 2d, gnb)
 *   hyper.lr: 0.001                   (default, then the range if any:)
 *   hyper.beta1: 0.9 in [0, 1)
 *   state.m: tensor f32               (tensor states shaped like p)
 *   state.L: matrix(rows, rows) f32   (matrix states, dims as in the source)
 *   state.seen: scalar f64            (scalar states)
 *   state.H.s: tensor f32 x m         (a history's buffers: m copies; JSON
 *                                      "copies": "m")
 *   sweeps: 1
 *   bytes_per_element: 28
 *   state_bytes_per_element: 8        (histories not counted)
 *   state_bytes: 8*m*n + 8*m + 16     (per tensor; history terms carry m)
 *   scratch_buffers: 0
 * The JSON form is one object with the same content (docs/ir_scheduled.md
 * shows it); bounds that are absent or infinite are null there.
 */
#ifndef OPTC_INFO_H
#define OPTC_INFO_H

#include "ir.h"

void info_format(Str *out, const IrProgram *prog, bool json);

#endif
