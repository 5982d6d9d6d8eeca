// Where the gateway is: /config.json from the client server, or the gateway's usual port next to this page.
export interface ClientConfig {
  gatewayUrl: string;
}

export async function loadConfig(): Promise<ClientConfig> {
  try {
    const response = await fetch('/config.json', { cache: 'no-store' });
    if (response.ok) {
      const body = (await response.json()) as Partial<ClientConfig>;
      if (typeof body.gatewayUrl === 'string' && body.gatewayUrl) return { gatewayUrl: body.gatewayUrl.replace(/\/+$/, '') };
    }
  } catch {
    // Served without the client server (vite dev): fall through to the default.
  }
  return { gatewayUrl: `${location.protocol}//${location.hostname}:4000` };
}
