// Log lines prefixed by host; collapsed groups for long phases (no nesting: the runner has none).
import * as core from '@actions/core';
import type { HostLog } from './context.ts';

let groupOpen = false;

export function hostLog(host: string): HostLog {
  const prefix = `[${host}]`;
  return {
    info: (line) => core.info(`${prefix} ${line}`),
    warn: (line) => core.warning(`${prefix} ${line}`),
    debug: (line) => core.debug(`${prefix} ${line}`),
    async group(title, fn) {
      if (groupOpen) {
        core.info(`${prefix} ── ${title}`);
        return fn();
      }
      groupOpen = true;
      core.startGroup(`${prefix} ${title}`);
      try {
        return await fn();
      } finally {
        core.endGroup();
        groupOpen = false;
      }
    },
  };
}
