// Lint rules for every workspace: ESLint's and typescript-eslint's recommended sets.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.data/**', '**/generated/**', '**/test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // Calls between the system's processes go through undici: fetch refuses the Fetch standard's
    // "bad ports", and persist's default 6000 is one. The browser client is the exception.
    files: ['*/src/**/*.ts', 'scripts/**/*.ts'],
    ignores: ['client/src/app/**'],
    rules: {
      'no-restricted-globals': ['error', { name: 'fetch', message: 'Use undici (HttpPools, UpstreamClient or request): fetch refuses ports such as 6000.' }],
    },
  },
);
