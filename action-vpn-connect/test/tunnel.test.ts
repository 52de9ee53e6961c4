import { afterEach, describe, expect, it } from 'vitest';
import { ManagementClient } from '../src/management.ts';
import { AttemptFailed, awaitConnection, type ExitInfo } from '../src/tunnel.ts';
import { startFakeManagement, type FakeScript, type FakeServer } from './fake-management.ts';

const servers: FakeServer[] = [];
const clients: ManagementClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

const CREDS = { username: 'ci "runner"', password: 'p\\a"ss word' };

async function attempt(script: FakeScript, o: { timeoutMs?: number; exited?: Promise<ExitInfo>; signal?: AbortSignal; credentials?: typeof CREDS | null } = {}) {
  const server = await startFakeManagement(script);
  servers.push(server);
  const session = await ManagementClient.connect(server.socket);
  clients.push(session);
  const started = performance.now();
  const result = awaitConnection({
    session,
    exited: o.exited ?? new Promise(() => undefined),
    ...(o.credentials === null ? {} : { credentials: o.credentials ?? CREDS }),
    timeoutMs: o.timeoutMs ?? 5000,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  return { server, result, started };
}

const needAuth = (say: (l: string) => void): void => say(">PASSWORD:Need 'Auth' username/password");

describe('awaitConnection over the management protocol', () => {
  it('releases the hold, answers the credential query with quoted values, and resolves on CONNECTED,SUCCESS', async () => {
    const { server, result } = await attempt({
      onRelease: needAuth,
      onCommand: (command, say) => {
        if (!command.startsWith('password ')) return;
        say('>LOG:1795337520,I,TUN/TAP device tun7 opened');
        say('>STATE:1795337521,ASSIGN_IP,,198.19.0.6,,,,');
        say('>STATE:1795337521,CONNECTED,SUCCESS,198.19.0.6,198.18.0.2,1194,198.18.0.1,40000,');
      },
    });
    const c = await result;
    expect(c).toMatchObject({ ip: '198.19.0.6', remoteIp: '198.18.0.2', remotePort: '1194', interface: 'tun7' });
    expect(server.commands.slice(0, 4)).toEqual(['state on', 'log on all', 'hold off', 'hold release']);
    expect(server.commands).toContain('username "Auth" "ci \\"runner\\""');
    expect(server.commands).toContain('password "Auth" "p\\\\a\\"ss word"');
    expect(c.messages).toContain('OpenVPN 2.6.14 x86_64-pc-linux-gnu');
  });

  it('fails with the auth category on Verification Failed, at once', async () => {
    const { result, started } = await attempt({
      onRelease: needAuth,
      onCommand: (command, say) => {
        if (!command.startsWith('password ')) return;
        say('>LOG:1795337520,I,AUTH: Received control message: AUTH_FAILED');
        say(">PASSWORD:Verification Failed: 'Auth'");
        say('>STATE:1795337520,EXITING,auth-failure,,,,,');
      },
    });
    const error = (await result.catch((e: unknown) => e)) as AttemptFailed;
    expect(error).toBeInstanceOf(AttemptFailed);
    expect(error.failure.category).toBe('auth');
    expect(error.failure.retryable).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('fails with the tls category on a handshake failure without waiting for the timeout', async () => {
    const { result, started } = await attempt(
      {
        onRelease: (say) => {
          say('>STATE:1795337520,WAIT,,,,,,');
          say('>LOG:1795337520,N,OpenSSL: error:0A000418:SSL routines::tlsv1 alert unknown ca:SSL alert number 48');
          say('>LOG:1795337520,N,TLS_ERROR: BIO read tls_read_plaintext error');
          say('>LOG:1795337520,N,TLS Error: TLS handshake failed');
        },
      },
      { timeoutMs: 20_000, credentials: null },
    );
    const error = (await result.catch((e: unknown) => e)) as AttemptFailed;
    expect(error.failure.category).toBe('tls');
    expect(error.message).toMatch(/\[tls\].*Hint: The TLS handshake failed/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('fails with tls when the server drops the handshake after its certificate verified (it rejected ours)', async () => {
    const server = await startFakeManagement({
      onRelease: (say) => {
        say('>STATE:1795337520,AUTH,,,,,,');
        say('>LOG:1795337520,I,TLS: Initial packet from [AF_INET]198.18.0.2:1194, sid=5ef006ba fcc79c38');
        say('>LOG:1795337520,I,VERIFY OK: depth=1, CN=Gangway lab gw-target1 VPN CA');
        say('>LOG:1795337520,I,VERIFY OK: depth=0, CN=gw-target1-vpn-server');
      },
    });
    servers.push(server);
    const session = await ManagementClient.connect(server.socket);
    clients.push(session);
    const started = performance.now();
    const error = (await awaitConnection({ session, exited: new Promise(() => undefined), timeoutMs: 20_000, handshakeStallMs: 300 }).catch((e: unknown) => e)) as AttemptFailed;
    expect(error.failure.category).toBe('tls');
    expect(error.failure.reason).toMatch(/went silent after receiving this client's certificate/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('times out with the last state and the reason the server was not reached', async () => {
    const { result } = await attempt(
      {
        onRelease: (say) => {
          say('>STATE:1795337520,WAIT,,,,,,');
          say('>LOG:1795337520,N,read UDPv4 [EHOSTUNREACH]: No route to host (fd=5,code=113)');
        },
      },
      { timeoutMs: 600, credentials: null },
    );
    const error = (await result.catch((e: unknown) => e)) as AttemptFailed;
    expect(error.failure.category).toBe('timeout');
    expect(error.failure.reason).toMatch(/No VPN session within 600ms.*EHOSTUNREACH/);
    expect(error.failure.retryable).toBe(true);
  });

  it('reports an exit of the process with its code', async () => {
    let exit!: (e: ExitInfo) => void;
    const exited = new Promise<ExitInfo>((r) => (exit = r));
    const { result, server } = await attempt({ onRelease: () => setTimeout(() => { server.dropClients(); exit({ code: 1, signal: null }); }, 50) }, { exited, credentials: null });
    const error = (await result.catch((e: unknown) => e)) as AttemptFailed;
    expect(error.failure.category).toBe('exited');
    expect(error.failure.reason).toMatch(/code 1/);
  });

  it('fails with routes on CONNECTED,ERROR (Initialization Sequence Completed With Errors)', async () => {
    const { result } = await attempt({
      onRelease: (say) => {
        say('>LOG:1795337520,N,ERROR: Linux route add command failed: external program exited with error status: 2');
        say('>LOG:1795337520,I,Initialization Sequence Completed With Errors ( see http://openvpn.net/howto.html#mitm )');
        say('>STATE:1795337521,CONNECTED,ERROR,198.19.0.6,198.18.0.2,1194,,');
      },
    }, { credentials: null });
    const error = (await result.catch((e: unknown) => e)) as AttemptFailed;
    expect(error.failure.category).toBe('routes');
  });

  it('asks for credentials it was not given: fails instead of hanging', async () => {
    const { result } = await attempt({ onRelease: needAuth }, { credentials: null, timeoutMs: 20_000 });
    const error = (await result.catch((e: unknown) => e)) as AttemptFailed;
    expect(error.messages.join('\n')).toMatch(/asks for a username and password/);
  });

  it('stops waiting when the job is cancelled', async () => {
    const controller = new AbortController();
    const { result, started } = await attempt({ onRelease: (say) => say('>STATE:1795337520,WAIT,,,,,,') }, { signal: controller.signal, timeoutMs: 20_000, credentials: null });
    setTimeout(() => controller.abort(new Error('cancelled')), 100);
    const error = (await result.catch((e: unknown) => e)) as AttemptFailed;
    expect(error.failure.category).toBe('cancelled');
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
