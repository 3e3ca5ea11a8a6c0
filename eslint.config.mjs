// ESLint flat config: @eslint/js recommended + typescript-eslint recommended (not the
// type-checked sets, so a run over the whole tree takes seconds, not a type-check).
// `npm run lint` runs it; test/unit/style/lint.test.ts runs it inside `npm run test:unit` and `npm test`.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['dist/', 'build/', 'node_modules/', 'test/fixtures/', 'test-artifacts/'],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    linterOptions: {
      // An eslint-disable comment that no longer disables anything is itself a problem.
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // A `let` that a closure reads before its one assignment (an exit hook registered before
      // the child it kills is spawned) cannot be a `const`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `_` marks a binding that is there on purpose (a callback's parameter position, a field
      // left out of a rest object), as tsc's noUnusedParameters already accepts.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'all',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
);
