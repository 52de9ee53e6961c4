// Local stand-ins for what action-notify talks to besides GitHub: a Slack-compatible
// webhook receiver and an SMTP server (smtp-server, the server half of nodemailer's
// project), both on 127.0.0.1 with random ports, with TLS from a test CA that the action's
// process trusts through NODE_EXTRA_CA_CERTS, as a runner would trust a company CA.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { createCa, createLeaf } from '../../lab/src/pki.ts';

export interface TestTls {
  /** The CA's certificate file: NODE_EXTRA_CA_CERTS for the step. */
  caFile: string;
  /** The server's certificate and key (PEM), valid for 127.0.0.1 and localhost. */
  cert: string;
  key: string;
  remove(): void;
}

/** A test CA and a server certificate for 127.0.0.1, made with openssl. */
export function createTestTls(): TestTls {
  const dir = mkdtempSync(path.join(tmpdir(), 'gangway-notify-tls-'));
  const ca = createCa(dir, 'Gangway notify test CA');
  const leaf = createLeaf({ dir, name: 'server', commonName: '127.0.0.1', ca, usage: 'serverAuth', subjectAltName: 'IP:127.0.0.1, DNS:localhost' });
  return { caFile: ca.cert, cert: readFileSync(leaf.cert, 'utf8'), key: readFileSync(leaf.key, 'utf8'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface WebhookReceiver {
  url: string;
  /** The JSON bodies received, in order. */
  messages: Array<{ text: string }>;
  /** Answer the next `n` posts with this status instead of 200. */
  failNext(status: number, n?: number): void;
  close(): Promise<void>;
}

/** An https receiver with `tls`, else plain http (which the action refuses unless allowed). */
export async function startWebhookReceiver(options: { tls?: TestTls; secretPath?: string } = {}): Promise<WebhookReceiver> {
  const secretPath = options.secretPath ?? '/services/T000/B000/' + 'w'.repeat(24);
  const messages: Array<{ text: string }> = [];
  const failures: number[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== secretPath) {
        res.writeHead(404).end('no_service');
        return;
      }
      const status = failures.shift();
      if (status !== undefined) {
        res.writeHead(status).end('server_error');
        return;
      }
      messages.push(JSON.parse(body) as { text: string });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle) : createHttpServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}${secretPath}`,
    messages,
    failNext: (status, n = 1) => failures.push(...Array<number>(n).fill(status)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ReceivedMail {
  from: string;
  to: string[];
  user: string | undefined;
  /** The session was encrypted (STARTTLS) when the mail came. */
  secure: boolean;
  raw: string;
}

export interface MailSink {
  port: number;
  /** smtp://user:password@127.0.0.1:port */
  url: (user: string, password: string) => string;
  mails: ReceivedMail[];
  /** Logins tried (with any password), encrypted or not. */
  logins: Array<{ user: string; secure: boolean }>;
  close(): Promise<void>;
}

/**
 * An SMTP server that requires AUTH PLAIN/LOGIN with `user`/`password` and keeps what it
 * receives. With `tls` it offers STARTTLS and takes a login only after it; without, it offers
 * no STARTTLS and takes logins in clear text (the server the action must refuse to use).
 */
export async function startMailSink(user: string, password: string, options: { tls?: TestTls } = {}): Promise<MailSink> {
  const mails: ReceivedMail[] = [];
  const logins: MailSink['logins'] = [];
  const server = new SMTPServer({
    secure: false,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert, allowInsecureAuth: false } : { disabledCommands: ['STARTTLS'], allowInsecureAuth: true }),
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, session, callback) {
      logins.push({ user: auth.username ?? '', secure: session.secure });
      if (auth.username === user && auth.password === password) callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString()));
      stream.on('end', () => {
        const from = session.envelope.mailFrom;
        mails.push({
          from: from === false ? '' : from.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          user: typeof session.user === 'string' ? session.user : undefined,
          secure: session.secure,
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: (u, p) => `smtp://${encodeURIComponent(u)}:${encodeURIComponent(p)}@127.0.0.1:${port}`,
    mails,
    logins,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
