// One supervised child: spawned with an IPC channel (so it dies with the launcher), its output
// prefixed line by line, its unexpected exit reported to the launcher (which restarts it loudly).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { styleText } from 'node:util';
import { formatLine, prefixColour } from './log-format.ts';

export interface ChildSpec {
  /** Label in logs, e.g. "auth-2". */
  label: string;
  /** The TypeScript entry, relative to the repository root. */
  entry: string;
  env: NodeJS.ProcessEnv;
  /** Arguments after the entry. */
  args?: string[];
}

export class Child {
  private process: ChildProcess | undefined;
  private exitPromise: Promise<number | null> | undefined;
  private stopping = false;

  constructor(
    readonly spec: ChildSpec,
    private readonly index: number,
    private readonly width: number,
    private readonly onUnexpectedExit: (child: Child, code: number | null, signal: NodeJS.Signals | null) => void,
  ) {}

  get pid(): number | undefined {
    return this.process?.pid;
  }

  private prefix(): string {
    const text = `${this.spec.label.padEnd(this.width)} |`;
    return process.stdout.isTTY ? styleText(prefixColour(this.index), text) : text;
  }

  /** Starts the process; again after it died, with `extraEnv` added (e.g. how often it was restarted). */
  start(extraEnv: NodeJS.ProcessEnv = {}): void {
    if (this.stopping) return;
    const child = spawn(process.execPath, ['--import', 'tsx', this.spec.entry, ...(this.spec.args ?? [])], {
      env: { ...this.spec.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Its own process group: a terminal's Ctrl-C reaches only the launcher, which stops the
      // children in order. The IPC channel still ends the child if the launcher dies.
      detached: true,
    });
    this.process = child;
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        process.stdout.write(`${this.prefix()} ${formatLine(line)}\n`);
      });
    }
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (!this.stopping) this.onUnexpectedExit(this, code, signal);
        resolve(code);
      });
    });
  }

  /** From now on an exit is part of shutdown, not a failure. */
  expectExit(): void {
    this.stopping = true;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      process.stdout.write(`${this.prefix()} did not stop within ${graceMs} ms; killing\n`);
      child.kill('SIGKILL');
    }, graceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }
}
