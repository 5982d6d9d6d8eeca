// Where a service's logs go: stdout through pino's synchronous destination, behind a switch.
// A process started by the launcher writes into the launcher's pipe; once the launcher is gone,
// a write can block for ever (pino retries a full pipe), so the whole process mutes at once:
// every logger, children included, shares this one destination.
import pino from 'pino';

export class MutableDestination {
  private muted = false;
  private out: ReturnType<typeof pino.destination> | undefined;

  write(line: string): boolean {
    if (this.muted) return true;
    this.out ??= pino.destination({ dest: 1, sync: true });
    return this.out.write(line);
  }

  mute(): void {
    this.muted = true;
  }
}

/** The destination of every service logger in this process, unless a test passes its own. */
export const processLogDestination = new MutableDestination();
