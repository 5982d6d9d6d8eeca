// Every configuration key a process reads is documented: in the README and in its .env.example.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import { baseConfigShape } from '../lib/src/config.ts';
import { configSchema as discoveryConfig } from '../discovery/src/config.ts';
import { configSchema as authConfig } from '../auth/src/config.ts';
import { configSchema as counterConfig } from '../counter/src/config.ts';
import { configSchema as persistConfig } from '../persist/src/config.ts';
import { configSchema as gatewayConfig } from '../gateway/src/config.ts';
import { configSchema as mailerConfig } from '../mailer/src/config.ts';
import { sinkConfigSchema } from '../mailer/src/smtp-sink/config.ts';
import { configSchema as avatarConfig } from '../avatar/src/config.ts';
import { configSchema as clientConfig } from '../client/src/config.ts';
import { launcherConfigSchema } from '../scripts/launcher/config.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

const documented: [string, z.ZodObject, string | undefined][] = [
  ['every service (base keys)', z.object(baseConfigShape({ port: 0 })), undefined],
  ['discovery', discoveryConfig, 'discovery/.env.example'],
  ['auth', authConfig, 'auth/.env.example'],
  ['counter', counterConfig, 'counter/.env.example'],
  ['persist', persistConfig, 'persist/.env.example'],
  ['gateway', gatewayConfig, 'gateway/.env.example'],
  ['mailer', mailerConfig, 'mailer/.env.example'],
  ['smtp sink (npm start)', sinkConfigSchema, undefined],
  ['avatar', avatarConfig, 'avatar/.env.example'],
  ['client', clientConfig, 'client/.env.example'],
  ['npm start', launcherConfigSchema, undefined],
];

for (const [owner, schema, envExample] of documented) {
  test(`${owner}: every key is in the README${envExample ? ` and ${envExample}` : ''}`, () => {
    const example = envExample ? readFileSync(new URL(`../${envExample}`, import.meta.url), 'utf8') : undefined;
    for (const key of Object.keys(schema.shape)) {
      assert.ok(readme.includes(`| \`${key}\` |`), `README documents ${key}`);
      if (example !== undefined) assert.match(example, new RegExp(`^${key}=`, 'm'), `${envExample} lists ${key}`);
    }
  });
}
