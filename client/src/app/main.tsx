// The app's entry: reads /config.json (where the gateway is), opens one RpcClient for the page with
// the stored token, and mounts <App/>.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { loadConfig } from './api/config.ts';
import { ClientContext } from './api/hooks.ts';
import { RpcClient } from './api/rpc-client.ts';
import { storedToken } from './api/session.ts';
import { ToastProvider } from './components/Toasts.tsx';
import './styles.css';

const { gatewayUrl } = await loadConfig();
const client = new RpcClient(gatewayUrl, storedToken());
client.start();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ClientContext.Provider value={client}>
      <ToastProvider>
        <App />
      </ToastProvider>
    </ClientContext.Provider>
  </StrictMode>,
);
