// Flat config: typescript-eslint's recommended rules over every TypeScript file we ship or test.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', '.postgres-ops/', 'helm/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Only the kube adapter may talk to the Kubernetes API.
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@kubernetes/client-node', message: 'Import the Kubernetes client only in src/kube/.' },
          ],
        },
      ],
    },
  },
  { files: ['src/kube/**'], rules: { 'no-restricted-imports': 'off' } },
  {
    files: ['src/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            'node:fs',
            'node:fs/promises',
            'node:child_process',
            'node:net',
            'fs',
            'child_process',
            'net',
          ].map((name) => ({
            name,
            message: 'src/core is pure: do I/O in src/runtime, src/kube or src/local.',
          })),
        },
      ],
    },
  },
);
