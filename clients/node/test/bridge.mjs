// Start the real bridge (with its embedded emulator) from the repository's .venv on free ports.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const WAIT_MS = 30_000;

export async function startBridge() {
  const child = spawn(
    `${ROOT}.venv/bin/avatar-bridge`,
    ['serve', '--listen', '127.0.0.1:0', '--emulator-port', '0', '--emulator-livekit-port', '0'],
    {
      // AVATAR_BRIDGE_EMULATOR=1: the embedded emulator is asked for explicitly, not implied.
      env: { ...process.env, LIVEAVATAR_API_KEY: '', AVATAR_BRIDGE_EMULATOR: '1', AVATAR_BRIDGE_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const log = [];
  const lines = createInterface({ input: child.stderr });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bridge not listening: ${log.join('\n')}`)), WAIT_MS);
    child.once('exit', (code) => reject(new Error(`bridge exited (${code}): ${log.join('\n')}`)));
    lines.on('line', (line) => {
      log.push(line);
      try {
        const record = JSON.parse(line);
        if (record.port) {
          clearTimeout(timer);
          resolve(record.port);
        }
      } catch {
        // not a JSON line
      }
    });
  });
  return {
    target: `127.0.0.1:${port}`,
    log,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      return code;
    },
  };
}
