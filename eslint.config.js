// ESLint flat config: eslint recommended + typescript-eslint recommended (syntax-only, so
// `npx eslint .` stays fast; `tsc -b` already does the type checking).
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const NEW_TRIBUTARY_ERROR = {
  selector: "NewExpression[callee.name='TributaryError']",
  message: 'Use TributaryError.of(Reason.X, message) or its named factories.',
};

export default defineConfig(
  globalIgnores(['**/dist/', '**/node_modules/', 'proto/src/generated/', '**/coverage/', '.tributary/', '.doc-examples/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      // A leading underscore marks a parameter or binding kept on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // One way to make an error: the reason decides the gRPC status (REASON_STATUS), and a
    // `Reason` constant names it.
    files: ['*/src/**/*.ts'],
    ignores: ['proto/src/errors.ts'],
    rules: {
      'no-restricted-syntax': ['error', NEW_TRIBUTARY_ERROR],
    },
  },
  {
    // A package's face is a list of names: `export *` would publish every internal change.
    files: ['*/src/index.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        NEW_TRIBUTARY_ERROR,
        { selector: 'ExportAllDeclaration', message: 'List the public names of a package entry; no `export *`.' },
      ],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
