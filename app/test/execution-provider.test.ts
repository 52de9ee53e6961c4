import { describe, expect, it } from 'vitest';
import { chooseExecutionProviders, createWithProviders, detectNvidiaGpu, ProviderUnavailableError } from '../src/ocr/execution-provider.ts';

const noGpu = { visible: false, evidence: 'no /dev/nvidia0' };
const gpu = { visible: true, evidence: '/dev/nvidia0' };

describe('execution provider choice', () => {
  it('cpu is the CPU, with nothing to say', () => {
    expect(chooseExecutionProviders('cpu', noGpu)).toEqual({ providers: ['cpu'] });
    expect(chooseExecutionProviders('cpu', gpu)).toEqual({ providers: ['cpu'] });
  });

  it('cuda without a GPU refuses, in one line that says how to fall back', () => {
    expect(() => chooseExecutionProviders('cuda', noGpu)).toThrow(ProviderUnavailableError);
    const error = (() => {
      try {
        chooseExecutionProviders('cuda', noGpu);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error?.message).toMatch(/OCR_PROVIDER=cuda but no NVIDIA GPU is visible.*OCR_PROVIDER=auto/);
    expect(error?.message).not.toContain('\n');
  });

  it('auto without a GPU runs on the CPU and says so once', () => {
    const choice = chooseExecutionProviders('auto', noGpu);
    expect(choice.providers).toEqual(['cpu']);
    expect(choice.note).toMatch(/no NVIDIA GPU visible.*CPU/);
    expect(choice.note).not.toContain('\n');
  });

  it('with a GPU, cuda asks for CUDA alone and auto for CUDA then the CPU', () => {
    expect(chooseExecutionProviders('cuda', gpu)).toEqual({ providers: ['cuda'] });
    expect(chooseExecutionProviders('auto', gpu)).toEqual({ providers: ['cuda', 'cpu'] });
  });

  it('a CUDA provider that does not load: auto falls back with a note, cuda fails', async () => {
    const create = async (provider: string) => {
      if (provider === 'cuda') throw new Error('libonnxruntime_providers_cuda.so: cannot open shared object file\nmore');
      return provider;
    };
    const auto = await createWithProviders({ providers: ['cuda', 'cpu'] }, create);
    expect(auto).toMatchObject({ value: 'cpu', provider: 'cpu' });
    expect(auto.note).toMatch(/CUDA provider did not load \(cuda: libonnxruntime_providers_cuda\.so: cannot open shared object file\); running on the CPU/);
    await expect(createWithProviders({ providers: ['cuda'] }, create)).rejects.toThrow(/no execution provider loaded.*providers_cuda/);
    const plain = await createWithProviders({ providers: ['cpu'] }, create);
    expect(plain).toEqual({ value: 'cpu', provider: 'cpu' });
  });

  it('sees a GPU from the driver entry or the device node', () => {
    expect(detectNvidiaGpu(() => false).visible).toBe(false);
    expect(detectNvidiaGpu((f) => f === '/dev/nvidia0')).toEqual({ visible: true, evidence: '/dev/nvidia0' });
  });
});
