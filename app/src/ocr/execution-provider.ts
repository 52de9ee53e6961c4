// Which ONNX Runtime execution provider the OCR sessions ask for, from OCR_PROVIDER and what the host has.
//   cpu  → the CPU provider (the binaries inside onnxruntime-node).
//   cuda → the CUDA provider; without a visible NVIDIA GPU the worker says so in one log line and does not start.
//   auto → CUDA when a GPU is visible and the CUDA provider loads, the CPU otherwise (said in one log line).
import { existsSync, readFileSync } from 'node:fs';
import type { OcrProvider } from '../config.ts';

export type ExecutionProviderName = 'cpu' | 'cuda';

export interface ProviderChoice {
  /** Providers to try, in order; the session is created with the first that loads. */
  providers: ExecutionProviderName[];
  /** One line for the log when the choice is not what a reader would assume (no GPU, fallback). */
  note?: string;
}

export class ProviderUnavailableError extends Error {
  override name = 'ProviderUnavailableError';
}

/** What the host shows of an NVIDIA GPU: the driver's /proc entry or a device node (the NVIDIA runtime adds both). */
export function detectNvidiaGpu(exists: (file: string) => boolean = existsSync): { visible: boolean; evidence: string } {
  if (exists('/proc/driver/nvidia/version')) {
    let driver = '';
    try {
      driver = readFileSync('/proc/driver/nvidia/version', 'utf8').split('\n')[0] ?? '';
    } catch {
      // unreadable: the file's existence is evidence enough
    }
    return { visible: true, evidence: driver || '/proc/driver/nvidia/version' };
  }
  if (exists('/dev/nvidia0')) return { visible: true, evidence: '/dev/nvidia0' };
  return { visible: false, evidence: 'no /dev/nvidia0 and no /proc/driver/nvidia (no GPU given to this container, or no NVIDIA runtime on the host)' };
}

/** The providers to ask ONNX Runtime for; throws ProviderUnavailableError when `cuda` is required and no GPU is visible. */
export function chooseExecutionProviders(wanted: OcrProvider, gpu: { visible: boolean; evidence: string }): ProviderChoice {
  if (wanted === 'cpu') return { providers: ['cpu'] };
  if (!gpu.visible) {
    if (wanted === 'cuda') throw new ProviderUnavailableError(`OCR_PROVIDER=cuda but no NVIDIA GPU is visible: ${gpu.evidence}; set OCR_PROVIDER=auto to fall back to the CPU`);
    return { providers: ['cpu'], note: `OCR_PROVIDER=auto: no NVIDIA GPU visible (${gpu.evidence}); running on the CPU` };
  }
  return { providers: wanted === 'auto' ? ['cuda', 'cpu'] : ['cuda'] };
}

/**
 * Creates a session with the first provider of the choice that loads. `cuda` alone fails with the
 * provider's own error (e.g. libonnxruntime_providers_cuda.so missing); `auto` falls back to the CPU and
 * says why in `note`.
 */
export async function createWithProviders<T>(
  choice: ProviderChoice,
  create: (provider: ExecutionProviderName) => Promise<T>,
): Promise<{ value: T; provider: ExecutionProviderName; note?: string }> {
  const errors: string[] = [];
  for (const provider of choice.providers) {
    try {
      const value = await create(provider);
      const fallbackNote = errors.length > 0 ? `OCR_PROVIDER=auto: the CUDA provider did not load (${errors.join('; ')}); running on the CPU` : undefined;
      const note = fallbackNote ?? choice.note;
      return { value, provider, ...(note ? { note } : {}) };
    } catch (error) {
      errors.push(`${provider}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new ProviderUnavailableError(`no execution provider loaded (${errors.join('; ')})`);
}
