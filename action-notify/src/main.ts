import { notify } from './notify.ts';
import { readSettings } from './settings.ts';

/** Reads and checks every input first (a mistake fails the step), then notifies (trouble only warns). */
export async function main(signal?: AbortSignal): Promise<void> {
  const settings = readSettings();
  await notify(settings, signal);
}
