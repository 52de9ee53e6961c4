/**
 * Docker's multiplexed stream: what the Engine API sends for container logs, attach and exec
 * when the container has no TTY. Each frame is an 8-byte header, `[type, 0, 0, 0, size (4 bytes,
 * big-endian)]`, then `size` bytes of output. Type 0 is stdin (written as stdout), 1 stdout,
 * 2 stderr, 3 an error the engine itself wrote into the stream (`Error grabbing logs: …`).
 *
 * Each stream is decoded as UTF-8 on its own, across frames and chunks: a character whose bytes
 * are split between two frames (the engine cuts frames by size, not by character) comes out
 * whole, even with a frame of the other stream between the halves.
 *
 * Bad and truncated frames, one rule: from the first byte that does not begin a valid, complete
 * frame, demuxing stops and everything from there on is passed through as raw stdout text.
 * Nothing is dropped and nothing is guessed. A header is valid when its type is 0–3 and its three
 * padding bytes are 0. So a stream that is not multiplexed at all (a TTY container) comes out
 * as it is; a stream that goes wrong half-way keeps the frames before as decoded text; and a
 * stream that ends inside a frame (header or payload cut short) shows that frame's bytes, header
 * included, as raw text.
 */
import { StringDecoder } from 'node:string_decoder';

/** `system`: an error the engine wrote into the stream (type 3), not output of the container. */
export type DockerStreamName = 'stdout' | 'stderr' | 'system';

export interface DockerStreamChunk {
  stream: DockerStreamName;
  text: string;
}

const HEADER_BYTES = 8;
const STREAM_OF_TYPE: readonly DockerStreamName[] = ['stdout', 'stdout', 'stderr', 'system'];

function isFrameHeader(header: Buffer): boolean {
  return (header[0] as number) < STREAM_OF_TYPE.length && header[1] === 0 && header[2] === 0 && header[3] === 0;
}

/** Demuxes a multiplexed stream as its chunks arrive: `push` each chunk, then `end` once. */
export class DockerStreamDemuxer {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Set at the first bytes that are not a valid frame: the rest is raw stdout. */
  #raw = false;
  readonly #decoders: Record<DockerStreamName, StringDecoder> = {
    stdout: new StringDecoder('utf8'),
    stderr: new StringDecoder('utf8'),
    system: new StringDecoder('utf8'),
  };

  /** The text that `chunk` completes, in stream order (consecutive text of one stream joined). */
  push(chunk: Uint8Array | string): DockerStreamChunk[] {
    const out: DockerStreamChunk[] = [];
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (bytes.length === 0) return out;
    if (this.#raw) {
      this.#emit(out, 'stdout', bytes);
      return out;
    }
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    while (this.#pendingBytes >= HEADER_BYTES) {
      const header = this.#peek(HEADER_BYTES);
      if (!isFrameHeader(header)) {
        this.#raw = true;
        this.#emit(out, 'stdout', this.#take(this.#pendingBytes));
        break;
      }
      const size = header.readUInt32BE(4);
      if (this.#pendingBytes < HEADER_BYTES + size) break;
      const frame = this.#take(HEADER_BYTES + size);
      this.#emit(out, STREAM_OF_TYPE[header[0] as number] as DockerStreamName, frame.subarray(HEADER_BYTES));
    }
    return out;
  }

  /** The stream ended: a frame cut short comes out as raw stdout text, and every decoder is flushed. */
  end(): DockerStreamChunk[] {
    const out: DockerStreamChunk[] = [];
    if (this.#pendingBytes > 0) {
      this.#raw = true;
      this.#emit(out, 'stdout', this.#take(this.#pendingBytes));
    }
    for (const stream of Object.keys(this.#decoders) as DockerStreamName[]) append(out, stream, this.#decoders[stream].end());
    return out;
  }

  #emit(out: DockerStreamChunk[], stream: DockerStreamName, bytes: Buffer): void {
    append(out, stream, this.#decoders[stream].write(bytes));
  }

  /** The first `n` pending bytes (n <= #pendingBytes), without consuming them. */
  #peek(n: number): Buffer {
    if ((this.#pending[0] as Buffer).length < n) this.#pending = [Buffer.concat(this.#pending, this.#pendingBytes)];
    return (this.#pending[0] as Buffer).subarray(0, n);
  }

  /** Consumes and returns the first `n` pending bytes (n <= #pendingBytes). */
  #take(n: number): Buffer {
    const all = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending, this.#pendingBytes);
    const rest = all.subarray(n);
    this.#pending = rest.length > 0 ? [rest] : [];
    this.#pendingBytes = rest.length;
    return all.subarray(0, n);
  }
}

function append(out: DockerStreamChunk[], stream: DockerStreamName, text: string): void {
  if (text === '') return;
  const last = out.at(-1);
  if (last?.stream === stream) last.text += text;
  else out.push({ stream, text });
}

/** Demuxes a live multiplexed stream (exec, attach, followed logs) into text chunks as they arrive. */
export async function* readDockerStream(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<DockerStreamChunk> {
  const demuxer = new DockerStreamDemuxer();
  for await (const chunk of source) yield* demuxer.push(chunk);
  yield* demuxer.end();
}

export interface DockerOutput {
  /** Every stream in the order the engine sent it, as one terminal would show it. */
  text: string;
  stdout: string;
  stderr: string;
  /** Errors the engine wrote into the stream (type 3), when there were any. */
  system: string;
}

/** Demuxes a whole multiplexed buffer (container logs read without `follow`). */
export function demuxDockerOutput(buffer: Uint8Array | string): DockerOutput {
  const demuxer = new DockerStreamDemuxer();
  const output: DockerOutput = { text: '', stdout: '', stderr: '', system: '' };
  for (const chunk of [...demuxer.push(buffer), ...demuxer.end()]) {
    output.text += chunk.text;
    output[chunk.stream] += chunk.text;
  }
  return output;
}
