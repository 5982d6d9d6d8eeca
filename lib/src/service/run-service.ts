// Process entry for a service: start it, then close it gracefully on SIGTERM/SIGINT or when the launcher goes away.
import type { Service } from './create-service.ts';
import { processLogDestination } from './log-destination.ts';

/**
 * Starts `service` (`service.listen()`: its prepare steps, the port, its start steps) and owns the process's lifetime: a signal (or the parent launcher's IPC channel
 * closing) closes it in order; a failed start, or a close that outlives SHUTDOWN_TIMEOUT_MS, exits 1.
 */
export async function runService(service: Service): Promise<void> {
  let stopping = false;
  const stop = (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => {
      service.log.error({ timeoutMs: service.config.SHUTDOWN_TIMEOUT_MS }, 'graceful shutdown timed out; exiting');
      process.exit(1);
    }, service.config.SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    service.close(reason).then(
      () => process.exit(code),
      (error: unknown) => {
        service.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: a second Ctrl-C must not fall back to the default action mid-shutdown.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Started by the launcher with an IPC channel: if the launcher dies, so do we (no orphans).
  if (process.send) {
    process.once('disconnect', () => {
      // Our stdout is the launcher's pipe, and nobody reads it any more: a log write could block
      // for ever, so every logger of the process goes quiet before closing.
      processLogDestination.mute();
      stop('launcher went away');
    });
  }
  try {
    await service.listen();
  } catch (error) {
    service.log.fatal({ err: error }, `${service.name} failed to start`);
    stop('start failed', 1);
  }
}
