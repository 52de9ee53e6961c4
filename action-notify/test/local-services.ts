// Local stand-ins for what action-notify talks to besides GitHub: a Slack-compatible
// webhook receiver and an SMTP server (smtp-server, the server half of nodemailer's
// project), both on 127.0.0.1 with random ports.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface WebhookReceiver {
  url: string;
  /** The JSON bodies received, in order. */
  messages: Array<{ text: string }>;
  /** Answer the next `n` posts with this status instead of 200. */
  failNext(status: number, n?: number): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(secretPath = '/services/T000/B000/' + 'w'.repeat(24)): Promise<WebhookReceiver> {
  const messages: Array<{ text: string }> = [];
  const failures: number[] = [];
  const server: Server = createServer((req, res) => {
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
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${secretPath}`,
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
  raw: string;
}

export interface MailSink {
  port: number;
  /** smtp://user:password@127.0.0.1:port */
  url: (user: string, password: string) => string;
  mails: ReceivedMail[];
  close(): Promise<void>;
}

/** An SMTP server that requires AUTH PLAIN/LOGIN with `user`/`password` and keeps what it receives. */
export async function startMailSink(user: string, password: string): Promise<MailSink> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, callback) {
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
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
