import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { demuxDockerOutput, DockerStreamDemuxer, readDockerStream, type DockerStreamChunk } from '../src/index.ts';

/** One frame of Docker's multiplexed stream. */
function frame(type: number, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

const EURO = Buffer.from('€', 'utf8'); // three bytes: e2 82 ac

describe('demuxDockerOutput', () => {
  it('splits stdout and stderr and keeps their order in the combined text', () => {
    const out = demuxDockerOutput(Buffer.concat([frame(1, 'one\n'), frame(2, 'oops\n'), frame(1, 'two\n'), frame(0, 'in\n')]));
    expect(out).toEqual({ text: 'one\noops\ntwo\nin\n', stdout: 'one\ntwo\nin\n', stderr: 'oops\n', system: '' });
  });

  it('decodes a character split between two frames, even with a frame of the other stream between them', () => {
    const out = demuxDockerOutput(Buffer.concat([frame(1, Buffer.concat([Buffer.from('price: '), EURO.subarray(0, 1)])), frame(2, 'warn\n'), frame(1, Buffer.concat([EURO.subarray(1), Buffer.from('5\n')]))]));
    expect(out.stdout).toBe('price: €5\n');
    expect(out.stderr).toBe('warn\n');
    expect(out.text).not.toContain('\uFFFD');
  });

  it("reports the engine's own errors (type 3) apart from the container's output", () => {
    const out = demuxDockerOutput(Buffer.concat([frame(1, 'ok\n'), frame(3, 'Error grabbing logs: unexpected EOF\n')]));
    expect(out.stdout).toBe('ok\n');
    expect(out.system).toBe('Error grabbing logs: unexpected EOF\n');
    expect(out.text).toBe('ok\nError grabbing logs: unexpected EOF\n');
  });

  it('passes a stream that is not multiplexed (a TTY container) through as it is', () => {
    expect(demuxDockerOutput(Buffer.from('plain text, no frames; café\n'))).toEqual({ text: 'plain text, no frames; café\n', stdout: 'plain text, no frames; café\n', stderr: '', system: '' });
    expect(demuxDockerOutput(Buffer.from('hi\n')).text).toBe('hi\n');
    expect(demuxDockerOutput(Buffer.alloc(0)).text).toBe('');
  });

  it('at a bad header, keeps the frames before and passes everything after through as raw stdout', () => {
    const bad = Buffer.from([7, 0, 0, 0, 0, 0, 0, 2, 0x41, 0x42]);
    const out = demuxDockerOutput(Buffer.concat([frame(2, 'err\n'), bad, frame(1, 'after')]));
    expect(out.stderr).toBe('err\n');
    expect(Buffer.from(out.stdout, 'utf8')).toEqual(Buffer.concat([bad, frame(1, 'after')]));
    // A header whose padding bytes are not 0 is bad too.
    const padded = Buffer.from([1, 0, 1, 0, 0, 0, 0, 1, 0x41]);
    expect(Buffer.from(demuxDockerOutput(Buffer.concat([frame(1, 'a'), padded])).stdout, 'utf8')).toEqual(Buffer.concat([Buffer.from('a'), padded]));
  });

  it('passes a frame cut short by the end of the stream (payload or header) through as raw stdout, header included', () => {
    const cut = frame(1, 'truncated payload').subarray(0, 12);
    const out = demuxDockerOutput(Buffer.concat([frame(1, 'whole\n'), cut]));
    expect(Buffer.from(out.stdout, 'utf8')).toEqual(Buffer.concat([Buffer.from('whole\n'), cut]));
    const header = frame(2, 'x').subarray(0, 5);
    expect(Buffer.from(demuxDockerOutput(Buffer.concat([frame(2, 'e'), header])).text, 'utf8')).toEqual(Buffer.concat([Buffer.from('e'), header]));
  });
});

describe('DockerStreamDemuxer', () => {
  it('gives the same text whichever way the bytes are cut into chunks', () => {
    const whole = Buffer.concat([frame(1, Buffer.concat([Buffer.from('a'), EURO.subarray(0, 2)])), frame(2, 'b'), frame(1, Buffer.concat([EURO.subarray(2), Buffer.from('c')])), frame(2, '€')]);
    for (let size = 1; size <= whole.length; size++) {
      const demuxer = new DockerStreamDemuxer();
      const chunks: DockerStreamChunk[] = [];
      for (let i = 0; i < whole.length; i += size) chunks.push(...demuxer.push(whole.subarray(i, i + size)));
      chunks.push(...demuxer.end());
      expect(chunks.filter((c) => c.stream === 'stdout').map((c) => c.text).join('')).toBe('a€c');
      expect(chunks.filter((c) => c.stream === 'stderr').map((c) => c.text).join('')).toBe('b€');
    }
  });

  it('holds back half a character until its other half arrives', () => {
    const demuxer = new DockerStreamDemuxer();
    expect(demuxer.push(frame(1, EURO.subarray(0, 1)))).toEqual([]);
    expect(demuxer.push(frame(1, EURO.subarray(1)))).toEqual([{ stream: 'stdout', text: '€' }]);
    expect(demuxer.end()).toEqual([]);
  });

  it('ends a character that never completes with U+FFFD rather than dropping it', () => {
    const demuxer = new DockerStreamDemuxer();
    demuxer.push(frame(2, EURO.subarray(0, 2)));
    expect(demuxer.end()).toEqual([{ stream: 'stderr', text: '\uFFFD' }]);
  });
});

describe('readDockerStream', () => {
  it('demuxes a live stream chunk by chunk', async () => {
    const bytes = Buffer.concat([frame(1, 'out '), frame(2, 'err '), frame(1, '€')]);
    const source = Readable.from([bytes.subarray(0, 3), bytes.subarray(3, 14), bytes.subarray(14, bytes.length - 1), bytes.subarray(bytes.length - 1)]);
    const chunks: DockerStreamChunk[] = [];
    for await (const chunk of readDockerStream(source)) chunks.push(chunk);
    expect(chunks).toEqual([
      { stream: 'stdout', text: 'out ' },
      { stream: 'stderr', text: 'err ' },
      { stream: 'stdout', text: '€' },
    ]);
  });
});
