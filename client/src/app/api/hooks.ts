// React bindings of the RpcClient: the client in context, the connection state, and push subscriptions.
import { createContext, useContext, useEffect, useRef, useSyncExternalStore } from 'react';
import type { PushEvent, PushEvents } from '@notify/lib/rpc';
import type { ConnectionSnapshot, RpcClient } from './rpc-client.ts';

export const ClientContext = createContext<RpcClient | null>(null);

export function useClient(): RpcClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useClient outside <ClientContext.Provider>');
  return client;
}

export function useConnection(): ConnectionSnapshot {
  const client = useClient();
  return useSyncExternalStore(client.subscribe, client.getSnapshot);
}

/** Runs `handler` on every `event` push while mounted (always the latest handler). */
export function usePush<E extends PushEvent>(event: E, handler: (data: PushEvents[E]) => void): void {
  const client = useClient();
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => client.on(event, (data) => latest.current(data)), [client, event]);
}

/** Runs `handler` after every reconnect while mounted. */
export function useReconnected(handler: () => void): void {
  const client = useClient();
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => client.onReconnected(() => latest.current()), [client]);
}
