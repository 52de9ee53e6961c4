// npm run lab:up | lab:down | lab:status
import { describeLab, labDown, labStatus, labUp } from './index.ts';

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up':
      await labUp();
      return 0;
    case 'down':
      await labDown();
      return 0;
    case 'status': {
      const s = await labStatus();
      console.log(`lab: ${s.status}`);
      for (const p of s.processes) console.log(`  ${p.alive ? 'running' : 'DEAD   '} ${p.name} (pid ${p.pid})`);
      for (const n of s.netns) console.log(`  ${n.exists ? 'present' : 'MISSING'} netns ${n.name}`);
      for (const e of s.engines) console.log(`  ${e.answers ? 'answers' : 'SILENT '} ${e.name} API`);
      if (s.registryAnswers !== undefined) console.log(`  ${s.registryAnswers ? 'answers' : 'SILENT '} registry /v2/`);
      if (s.acmeAnswers !== undefined) console.log(`  ${s.acmeAnswers ? 'answers' : 'SILENT '} ACME directories (pebble, pebble-short)`);
      if (s.state) console.log(describeLab(s.state));
      return s.status === 'up' ? 0 : s.status === 'down' ? 3 : 1;
    }
    default:
      console.error('usage: node lab/src/cli.ts up|down|status');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`[lab] ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
