// Runs Prometheus as a launcher child: a node process (so the launcher's IPC channel ends it if the
// launcher dies) that starts `prometheus`, forwards SIGTERM, and kills it when the launcher is gone.
import { spawn } from 'node:child_process';

const [config, storage, listen] = process.argv.slice(2);
const prometheus = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${storage}`, `--web.listen-address=${listen}`, '--log.level=warn'], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
prometheus.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
process.once('SIGTERM', () => prometheus.kill('SIGTERM'));
process.once('SIGINT', () => prometheus.kill('SIGTERM'));
// The launcher died (its IPC channel closed): nothing will stop Prometheus but us.
process.once('disconnect', () => prometheus.kill('SIGKILL'));
