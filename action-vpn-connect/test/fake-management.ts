// A fake OpenVPN management interface on a real unix socket, speaking the real protocol
// (as seen from OpenVPN 2.6): commands answered by SUCCESS:/ERROR:, `>KIND:` notifications.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface FakeScript {
  /** Called for every command after the built-in answers; `say` writes raw lines to the client. */
  onCommand?: (command: string, say: (line: string) => void) => void;
  /** After `hold release`. */
  onRelease?: (say: (line: string) => void) => void;
  /** History for `log on all`. */
  history?: string[];
}

export interface FakeServer {
  socket: string;
  commands: string[];
  close(): Promise<void>;
  /** Drops every client connection (as an exiting OpenVPN does). */
  dropClients(): void;
}

export async function startFakeManagement(script: FakeScript): Promise<FakeServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-mgmt-'));
  const socket = path.join(dir, 'mgmt.sock');
  const commands: string[] = [];
  const clients = new Set<net.Socket>();
  const server = net.createServer((c) => {
    clients.add(c);
    c.on('close', () => clients.delete(c));
    c.on('error', () => undefined);
    const say = (line: string): void => {
      if (!c.destroyed) c.write(`${line}\r\n`);
    };
    say(">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info");
    say('>HOLD:Waiting for hold release:0');
    let buffer = '';
    c.on('data', (d) => {
      buffer += d.toString();
      let nl = buffer.indexOf('\n');
      while (nl !== -1) {
        const command = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
        commands.push(command);
        if (command === 'state on') say('SUCCESS: real-time state notification set to ON');
        else if (command === 'log on all') {
          say('SUCCESS: real-time log notification set to ON');
          for (const h of script.history ?? ['1795337517,I,OpenVPN 2.6.14 x86_64-pc-linux-gnu']) say(h);
          say('END');
        } else if (command === 'hold off') say('SUCCESS: hold flag set to OFF');
        else if (command === 'hold release') {
          say('SUCCESS: hold release succeeded');
          script.onRelease?.(say);
        } else if (command === 'pid') say('SUCCESS: pid=4242');
        else if (command.startsWith('username ')) say("SUCCESS: 'Auth' username entered, but not yet verified");
        else if (command.startsWith('password ')) say("SUCCESS: 'Auth' password entered, but not yet verified");
        else if (command === 'signal SIGTERM') say('SUCCESS: signal SIGTERM thrown');
        else if (!script.onCommand) say(`ERROR: unknown command [${command}], enter 'help' for more options`);
        script.onCommand?.(command, say);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    commands,
    dropClients: () => {
      for (const c of clients) c.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of clients) c.destroy();
        server.close(() => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
