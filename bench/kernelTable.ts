/**
 * Per-kernel times of one profiled step, summed by kernel (issue 8's profile tables; bench/profilePage.ts in the
 * browser, bench/gpuNode.ts in Node on dawn.node). Kernel times come from WebGPU timestamp queries where the adapter
 * has them.
 */
import type * as tf from '@tensorflow/tfjs';

type ProfileInfo = Awaited<ReturnType<typeof tf.profile>>;

export type KernelTable = Record<string, { calls: number; ms: number }>;

/**
 * Forward convs are split by filter shape, so the loss blurs (1 channel, k×1 / 1×k) show apart from the model's.
 * Matmuls whose operands share the row count (a^T·b over > 64 rows) are the im2col filter gradients, apart from the
 * dense layers' matmuls; the [1, S] · [S, K·Cout] matmul right after a split one adds up its partial products.
 */
export async function kernelTable(prof: ProfileInfo): Promise<KernelTable> {
  const agg: KernelTable = {};
  let prevSplit = false;
  for (const k of prof.kernels) {
    const ms = await k.kernelTimeMs;
    const [a0, b0] = k.inputShapes;
    const r = a0 ? a0.length - 2 : 0;
    const fgMatMul = k.name === 'BatchMatMul' && a0 && b0 && a0.length === b0.length && a0[r] === b0[r] && a0[r] > 64;
    const key = k.name === 'Conv2D' && k.inputShapes[1] ? `Conv2D ${k.inputShapes[1].slice(0, 2).join('×')}×${k.inputShapes[1][2]}→${k.inputShapes[1][3]}`
      : fgMatMul ? 'BatchMatMul (filter grad)' : k.name === 'BatchMatMul' && prevSplit ? 'BatchMatMul (split-K sum)' : k.name;
    prevSplit = !!fgMatMul && r === 1;
    const a = (agg[key] ??= { calls: 0, ms: 0 });
    a.calls++;
    a.ms += typeof ms === 'number' ? ms : 0;
  }
  return agg;
}

/** Kernels that make the conv filter gradient: the stock op, or im2col's patch building + matmul + split-K sum. */
export const FILTER_GRAD_KERNELS = ['Conv2DBackpropFilter', 'BatchMatMul (filter grad)', 'BatchMatMul (split-K sum)', 'Concat', 'Slice', 'StridedSlice'];

/** Lines of a kernel table: the top `top` kernels by time with calls, ms and share. */
export function formatKernelTable(agg: KernelTable, top = 14): string[] {
  const total = Object.values(agg).reduce((s, a) => s + a.ms, 0);
  const fgMs = FILTER_GRAD_KERNELS.reduce((s, k) => s + (agg[k]?.ms ?? 0), 0);
  const calls = Object.values(agg).reduce((s, a) => s + a.calls, 0);
  const lines = [
    `kernels ${calls} dispatches, ${total.toFixed(1)} ms; filter-gradient kernels (${FILTER_GRAD_KERNELS.join(' + ')}): ${fgMs.toFixed(1)} ms, ${total ? ((100 * fgMs) / total).toFixed(1) : '0'} %`,
    'kernel | calls | ms | share',
  ];
  for (const [k, a] of Object.entries(agg).sort((x, y) => y[1].ms - x[1].ms).slice(0, top))
    lines.push(`${k} | ${a.calls} | ${a.ms.toFixed(2)} | ${total ? ((100 * a.ms) / total).toFixed(1) : '0'} %`);
  return lines;
}
