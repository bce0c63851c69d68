// Flat config: typescript-eslint's type-aware recommended rules over every TypeScript file we ship or
// test (types from tsconfig.json through the project service).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', '.postgres-ops/', 'helm/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly' },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Dropping `async` from a function with no await would turn its throws into synchronous
      // exceptions: implementations of promise-returning interfaces (ClusterApi, stores, stand-ins)
      // and functions whose callers .catch() or assert.rejects() must reject instead.
      '@typescript-eslint/require-await': 'off',
      // node:test's describe/it return a promise the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
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
  // Plain JavaScript (this file, scripts/*.mjs) is outside the TypeScript project.
  { files: ['**/*.{js,mjs}'], ...tseslint.configs.disableTypeChecked },
  {
    // Tests walk untyped JSON (rendered manifests, API request bodies, `-o json` output) through
    // `any` on purpose: the assertions check the shape, and a wrong path fails the test.
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      // Stand-in servers answer with async handlers; one that throws fails the test through the
      // runner's unhandled-rejection report.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
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
