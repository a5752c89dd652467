import { parseArgs } from 'node:util';
import { doctor, formatDoctorReport } from '@regime-zoo/core';

const USAGE = `zoo <command> [options]

commands:
  doctor [--json] [--size N]   Node version, backend in use and why, libtensorflow, threads,
                               measured NxN matmul GFLOP/s (default N = 512)
  help                         this text`;

/** Runs the `zoo` command line; returns the exit code. */
export async function main(argv: string[], out: (s: string) => void = (s) => console.log(s)): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'doctor': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' }, size: { type: 'string' } } });
      const size = values.size === undefined ? 512 : Number(values.size);
      if (!Number.isInteger(size) || size < 1) {
        out(`zoo doctor: --size must be a positive integer, got "${values.size}"`);
        return 2;
      }
      const report = doctor({ matmulSize: size });
      out(values.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
      out(USAGE);
      return 0;
    default:
      out(`zoo: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}
