import nodemailer from 'nodemailer';

export interface Mail {
  from: string;
  to: string[];
  subject: string;
  text: string;
}

/**
 * Sends one mail through the SMTP server of `smtpUrl`: smtps:// with implicit TLS, smtp://
 * with STARTTLS required (a server that does not offer it gets neither the password nor the
 * log tails in clear text). Certificates are verified. Bounded by timeouts; errors carry the
 * SMTP reply, never the URL or its password.
 */
export async function sendMail(smtpUrl: string, mail: Mail, options: { timeoutMs?: number } = {}): Promise<{ accepted: string[]; rejected: string[]; response: string }> {
  const timeout = options.timeoutMs ?? 15_000;
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  const transport = nodemailer.createTransport({
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
    secure,
    // smtp://: STARTTLS or nothing; never a silent fall back to clear text.
    requireTLS: !secure,
    tls: { minVersion: 'TLSv1.2', rejectUnauthorized: true },
    ...(url.username !== '' ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    logger: false,
    debug: false,
  });
  try {
    const info = await transport.sendMail({ from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, headers: { 'X-Gangway': 'action-notify' } });
    const list = (v: unknown): string[] => (Array.isArray(v) ? v.map((a) => (typeof a === 'string' ? a : (a as { address: string }).address)) : []);
    return { accepted: list(info.accepted), rejected: list(info.rejected), response: String(info.response ?? '') };
  } catch (error) {
    const e = error as { code?: string; responseCode?: number; response?: string; message?: string };
    const detail = e.response ?? e.message ?? String(error);
    if (!secure && e.code === 'ETLS') {
      throw new Error(`mail not sent: ETLS: ${url.hostname} offers no STARTTLS, and smtp:// requires it (nothing was sent in clear text). Use smtps:// for implicit TLS, or a server that offers STARTTLS`, { cause: error });
    }
    throw new Error(`mail not sent: ${e.code ?? 'error'}${e.responseCode ? ` ${e.responseCode}` : ''}: ${detail.replace(/\s+/g, ' ').slice(0, 200)}`, { cause: error });
  } finally {
    transport.close();
  }
}
