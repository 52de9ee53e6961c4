// The inputs of this action that carry secrets, for the secret sweep of every test that runs
// it through the harness (@gangway/harness, secret-inputs.ts).
import type { SecretInputs } from '@gangway/harness';

export const secretInputs = {
  key: 'whole',
  'tls-auth': 'whole',
  'tls-crypt': 'whole',
  'tls-crypt-v2': 'whole',
  'tls-key': 'whole',
  password: 'whole',
  // The inline key blocks of an OpenVPN config; its CA and certificates are public.
  config: { blocks: ['key', 'tls-auth', 'tls-crypt', 'tls-crypt-v2', 'secret'] },
} as const satisfies SecretInputs;
