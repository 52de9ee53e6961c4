import { retry } from '@gangway/kit';

export interface WebhookOptions {
  timeoutMs?: number;
  attempts?: number;
  signal?: AbortSignal;
  /** For tests: the wait between attempts. */
  sleep?: (ms: number) => Promise<void>;
}

class WebhookError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
  }
}

/**
 * Posts `{ "text": … }` to a Slack-compatible incoming webhook. Retries network errors,
 * 429 and 5xx. Error messages never contain the URL (it is a secret).
 */
export async function postWebhook(url: string, text: string, options: WebhookOptions = {}): Promise<void> {
  await retry(
    async () => {
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'gangway-action-notify' },
          body: JSON.stringify({ text }),
          signal: AbortSignal.any([AbortSignal.timeout(options.timeoutMs ?? 10_000), ...(options.signal ? [options.signal] : [])]),
          redirect: 'error',
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        const reason = (error as Error).name === 'TimeoutError' ? 'timed out' : (cause?.code ?? cause?.message ?? (error as Error).name);
        throw new WebhookError(`webhook not reached: ${reason}`, true);
      }
      const body = (await response.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ').trim();
      if (!response.ok) throw new WebhookError(`webhook answered HTTP ${response.status}${body ? `: ${body}` : ''}`, response.status === 429 || response.status >= 500);
    },
    {
      attempts: options.attempts ?? 3,
      initialDelayMs: 1000,
      jitter: 0.2,
      shouldRetry: (error) => error instanceof WebhookError && error.retryable,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
    },
  );
}
