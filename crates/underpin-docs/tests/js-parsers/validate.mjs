// Checks generated documents with the real parsers that their readers use.
//
//   node validate.mjs FILE...
//
// .dbml files go through @dbml/core, the DBML parser that dbdiagram.io and dbdocs use. .mmd
// files, and every ```mermaid block of a .md file, go through the ER parser of two Mermaid
// releases: 10.9, the last of the 10 line (entity aliases, which the renderer uses for
// awkward names, arrived in 10.5), and 11.17, the last of the 11 line. Mermaid blocks must also stay within Mermaid's default maxTextSize (50,000 UTF-16
// code units, checked before parsing) and maxEdges (500 relationships), or GitHub shows an
// error in place of the diagram.
//
// Prints one line per problem as FILE:LINE: PARSER: MESSAGE and exits 1 when there is any,
// 2 on a usage error, 0 when every file parses.

import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { Parser } from '@dbml/core';
import mermaid11 from 'mermaid';
import mermaid10 from 'mermaid-10';

const MAX_TEXT_SIZE = 50_000;
const MAX_EDGES = 500;
const MERMAIDS = [
  ['mermaid 10.9', mermaid10],
  ['mermaid 11.17', mermaid11],
];

for (const [, mermaid] of MERMAIDS) {
  mermaid.initialize({ startOnLoad: false });
}

// Returns the problems of one DBML text as [line, message] pairs.
function checkDbml(text) {
  try {
    Parser.parse(text, 'dbmlv2');
    return [];
  } catch (error) {
    if (Array.isArray(error.diags) && error.diags.length > 0) {
      return error.diags.map((diag) => [
        diag.location?.start?.line ?? 1,
        `dbml: ${diag.message}`,
      ]);
    }
    return [[1, `dbml: ${error.message ?? String(error)}`]];
  }
}

// Returns the problems of one Mermaid diagram; line numbers count from the diagram's first
// line.
async function checkMermaid(text) {
  const size = text.length;
  if (size > MAX_TEXT_SIZE) {
    return [[1, `mermaid: the diagram has ${size} characters, more than maxTextSize ${MAX_TEXT_SIZE}`]];
  }
  const problems = [];
  for (const [name, mermaid] of MERMAIDS) {
    try {
      const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
      if (diagram.type !== 'er') {
        problems.push([1, `${name}: expected an erDiagram, found a ${diagram.type} diagram`]);
        continue;
      }
      const edges = diagram.db.getRelationships().length;
      if (edges > MAX_EDGES) {
        problems.push([1, `${name}: ${edges} relationships, more than maxEdges ${MAX_EDGES}`]);
      }
    } catch (error) {
      const message = String(error.message ?? error);
      const line = Number(/on line (\d+)/.exec(message)?.[1] ?? 1);
      problems.push([line, `${name}: ${message.replaceAll('\n', ' ')}`]);
    }
  }
  return problems;
}

// Returns each ```mermaid block of a Markdown text with the file line of its first line.
function mermaidBlocks(markdown) {
  const lines = markdown.split('\n');
  const blocks = [];
  let open = null;
  lines.forEach((line, index) => {
    if (open === null && /^```mermaid\s*$/.test(line)) {
      open = { firstLine: index + 2, lines: [] };
    } else if (open !== null && /^```\s*$/.test(line)) {
      blocks.push({ firstLine: open.firstLine, text: open.lines.join('\n') + '\n' });
      open = null;
    } else if (open !== null) {
      open.lines.push(line);
    }
  });
  if (open !== null) {
    blocks.push({ firstLine: open.firstLine, unclosed: true, text: '' });
  }
  return blocks;
}

async function checkFile(file) {
  const text = await readFile(file, 'utf8');
  const extension = path.extname(file);
  if (extension === '.dbml') {
    return checkDbml(text);
  }
  if (extension === '.mmd') {
    return checkMermaid(text);
  }
  if (extension === '.md') {
    const problems = [];
    for (const block of mermaidBlocks(text)) {
      if (block.unclosed) {
        problems.push([block.firstLine - 1, 'markdown: a ```mermaid block is never closed']);
        continue;
      }
      for (const [line, message] of await checkMermaid(block.text)) {
        problems.push([block.firstLine + line - 1, message]);
      }
    }
    return problems;
  }
  return [[1, `unsupported file type ${JSON.stringify(extension)}: expected .dbml, .mmd or .md`]];
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate.mjs FILE...   (.dbml, .mmd or .md files)');
  process.exit(2);
}

let failures = 0;
for (const file of files) {
  let problems;
  try {
    problems = await checkFile(file);
  } catch (error) {
    problems = [[1, `cannot read the file: ${error.message}`]];
  }
  for (const [line, message] of problems) {
    console.log(`${file}:${line}: ${message}`);
  }
  failures += problems.length;
}
console.error(`validate.mjs: ${files.length} files checked, ${failures} problems`);
process.exit(failures === 0 ? 0 : 1);
