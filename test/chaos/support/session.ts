// For the chaos suite (issue #10): one lab target seen two ways. The actions reach it as a
// user's runner does (through the VPN, over SSH); the test watches it directly through the
// target engine's unix socket on this machine, so that no fault the test injects (a cut SSH
// connection, a dropped VPN) blinds the observer.
import fs from 'node:fs';
import Docker from 'dockerode';
import { labStatus, readLabState, type LabState, type TargetState } from '../../../lab/src/index.ts';
import { connectLabVpn, type VpnTunnel } from '../../../lab/src/testing/vpn.ts';

export interface ChaosSession {
  lab: LabState;
  target: TargetState;
  /** The target's engine, straight through its socket (not through SSH or the VPN). */
  docker: Docker;
  privateKey: string;
  /** This test's own tunnel to the target's VPN (the load and the actions use it). */
  vpn: VpnTunnel | undefined;
  /** Connects (again) this test's tunnel. */
  connectVpn(): Promise<VpnTunnel>;
  close(): Promise<void>;
}

/** Fails (never skips) when the lab is not up. `target` is 1-based, as in gw-target1. */
export async function openChaosSession(options: { target?: number; vpn?: boolean } = {}): Promise<ChaosSession> {
  const status = await labStatus();
  if (status.status !== 'up') throw new Error(`the lab is ${status.status}: run flock /tmp/gangway-lab.lock npm run lab:up first (the chaos suite needs it; it never skips)`);
  const lab = readLabState();
  const index = options.target ?? 1;
  const target = lab.targets.find((t) => t.index === index);
  if (!target) throw new Error(`the lab has no gw-target${index} (it has ${lab.targets.map((t) => t.name).join(', ')})`);
  const session: ChaosSession = {
    lab,
    target,
    docker: new Docker({ socketPath: target.dockerSocket }),
    privateKey: fs.readFileSync(target.privateKeyFile, 'utf8'),
    vpn: undefined,
    async connectVpn() {
      await session.vpn?.stop();
      session.vpn = await connectLabVpn(target.vpn.configFile);
      return session.vpn;
    },
    async close() {
      await session.vpn?.stop();
      session.vpn = undefined;
    },
  };
  if (options.vpn !== false) await session.connectVpn();
  return session;
}

export { loadFromInside, type NetnsLoad } from '../../../lab/src/testing/load-inside.ts';
