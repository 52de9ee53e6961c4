import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type Docker from 'dockerode';
import { toError, type RegistryCredentials } from '@gangway/kit';

// Hand-written on purpose: dockerode's withSession has no health service (the engine drops the session after 2 s) and gives one login to every registry that asks.
/**
 * The client side of a BuildKit session over the Engine API (`POST /session`, upgraded to
 * h2c): the engine calls back into it for registry credentials (cache imports, private
 * base images) and checks its health every second. A session that does not answer the
 * health check is closed by the engine after two seconds, and every later credentials
 * request fails with "no active session": dockerode's built-in session has no health
 * service, so this one is ours. Credentials go only to the registry they belong to.
 */

// The two messages we answer, encoded by hand (protobuf: field 1 and 2 as strings).
function encodeStrings(...fields: string[]): Buffer {
  const parts: Buffer[] = [];
  fields.forEach((value, index) => {
    const bytes = Buffer.from(value, 'utf8');
    const length: number[] = [];
    let n = bytes.length;
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n > 0) b |= 0x80;
      length.push(b);
    } while (n > 0);
    parts.push(Buffer.from([((index + 1) << 3) | 2, ...length]), bytes);
  });
  return Buffer.concat(parts);
}

/** CredentialsRequest { string Host = 1 } */
export function decodeCredentialsHost(request: Buffer): string {
  let pos = 0;
  while (pos < request.length) {
    const key = request[pos++] as number;
    let len = 0;
    let shift = 0;
    for (;;) {
      const b = request[pos++] as number;
      len |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
    }
    if (key === 0x0a) return request.subarray(pos, pos + len).toString('utf8');
    pos += len;
  }
  return '';
}

/** Whether the engine's `Host` (registry host, `registry-1.docker.io` for Hub) is the one the credentials are for. */
export function credentialsMatch(host: string, credentials: RegistryCredentials): boolean {
  const address = credentials.serveraddress.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (address === 'index.docker.io') return ['registry-1.docker.io', 'docker.io', 'index.docker.io'].includes(host);
  return host === address;
}

const identity = {
  requestSerialize: (b: Buffer): Buffer => b,
  requestDeserialize: (b: Buffer): Buffer => b,
  responseSerialize: (b: Buffer): Buffer => b,
  responseDeserialize: (b: Buffer): Buffer => b,
};
const unary = (path: string, name: string): grpc.MethodDefinition<Buffer, Buffer> => ({ path, requestStream: false, responseStream: false, originalName: name, ...identity });

const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
const AUTH_CREDENTIALS = '/moby.filesync.v1.Auth/Credentials';
/** HealthCheckResponse { status: SERVING (1) } */
const SERVING = Buffer.from([0x08, 0x01]);

export interface BuildkitSession {
  id: string;
  close(): void;
}

export async function openBuildkitSession(docker: Docker, credentials: RegistryCredentials | undefined): Promise<BuildkitSession> {
  const id = randomUUID();
  const socket = await new Promise<Duplex>((resolve, reject) => {
    docker.modem.dial(
      {
        path: '/session',
        method: 'POST',
        hijack: true,
        headers: {
          Upgrade: 'h2c',
          'X-Docker-Expose-Session-Uuid': id,
          'X-Docker-Expose-Session-Name': 'gangway-build',
          'X-Docker-Expose-Session-Sharedkey': '',
          'X-Docker-Expose-Session-Grpc-Method': [HEALTH_CHECK, AUTH_CREDENTIALS],
        },
        statusCodes: { 101: true, 200: true, 500: 'server error' },
      },
      (err: unknown, stream: unknown) => (err ? reject(toError(err)) : resolve(stream as Duplex)),
    );
  });
  const server = new grpc.Server();
  server.addService({ Check: unary(HEALTH_CHECK, 'check') }, { Check: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) => callback(null, SERVING) });
  server.addService({ Credentials: unary(AUTH_CREDENTIALS, 'credentials') }, {
    Credentials: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const host = decodeCredentialsHost(call.request);
      if (credentials && credentialsMatch(host, credentials)) callback(null, encodeStrings(credentials.username, credentials.password));
      else callback(null, Buffer.alloc(0));
    },
  });
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  injector.injectConnection(socket);
  socket.on('error', () => undefined);
  return {
    id,
    close() {
      server.forceShutdown();
      socket.destroy();
    },
  };
}
