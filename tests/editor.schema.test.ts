import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { getLanguageService } from 'yaml-language-server';

/**
 * What an admin sees in VS Code (Red Hat YAML extension) or any editor using yaml-language-server: the language
 * service itself, given the shipped workflows.yaml and its `# yaml-language-server: $schema=` comment.
 */
const EXAMPLE_URI = new URL('../workflows.yaml', import.meta.url).toString();
const EXAMPLE = readFileSync(new URL(EXAMPLE_URI), 'utf8');

function languageService() {
  const service = getLanguageService({
    schemaRequestService: async (uri: string) => readFileSync(fileURLToPath(uri), 'utf8'),
    workspaceContext: {
      resolveRelativePath: (relativePath: string, resource: string) => new URL(relativePath, resource).toString(),
    },
  });
  service.configure({ validate: true, completion: true, hover: true, isKubernetes: false, schemas: [] });
  return service;
}

describe('editing workflows.yaml with the YAML language server', () => {
  it('reports no problem in the shipped example', async () => {
    const diagnostics = await languageService().doValidation(
      TextDocument.create(EXAMPLE_URI, 'yaml', 1, EXAMPLE),
      false,
    );
    expect(diagnostics.map((diagnostic) => `${diagnostic.range.start.line + 1}: ${diagnostic.message}`)).toEqual([]);
  });

  it('underlines a misspelt step type', async () => {
    const text = EXAMPLE.replace('      - type: map ', '      - type: mapp ');
    const line = text.split('\n').findIndex((candidate) => candidate.includes('- type: mapp'));
    expect(line).toBeGreaterThan(0);
    const diagnostics = await languageService().doValidation(TextDocument.create(EXAMPLE_URI, 'yaml', 2, text), false);
    const onLine = diagnostics.filter((diagnostic) => diagnostic.range.start.line === line);
    expect(onLine.length).toBeGreaterThan(0);
    expect(onLine.map((diagnostic) => diagnostic.message).join(' ')).toMatch(/Value is not accepted|allowed values/i);
  });

  it('completes step types and a step’s fields', async () => {
    const marker = '      - type: upsert_customer\n';
    const at = EXAMPLE.indexOf(marker);
    const text = `${EXAMPLE.slice(0, at)}      - type: \n${EXAMPLE.slice(at)}`;
    const document = TextDocument.create(EXAMPLE_URI, 'yaml', 3, text);
    const position = document.positionAt(at + '      - type: '.length);
    const types = (await languageService().doComplete(document, position, false)).items.map((item) => item.label);
    expect(types).toEqual(expect.arrayContaining(['map', 'upsert_customer', 'assign_lead', 'reply']));

    const withPool = `${EXAMPLE.slice(0, at)}      - type: assign_lead\n        \n${EXAMPLE.slice(at)}`;
    const poolDocument = TextDocument.create(EXAMPLE_URI, 'yaml', 4, withPool);
    const fieldPosition = poolDocument.positionAt(at + '      - type: assign_lead\n        '.length);
    const fields = (await languageService().doComplete(poolDocument, fieldPosition, false)).items.map(
      (item) => item.label,
    );
    expect(fields).toEqual(expect.arrayContaining(['pool', 'strategy']));
  });
});
