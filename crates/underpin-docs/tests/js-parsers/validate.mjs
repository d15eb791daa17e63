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
// A .md file is also rendered to HTML with markdown-it (raw HTML passed through, as GitHub
// does) and the HTML parsed with parse5, the HTML5 tree builder of the specification. Every
// line that starts with `## ` or `### ` must become a heading at the top level of the page:
// a comment that leaves a code fence, an HTML comment or an element such as <details> open
// turns the headings after it into code, hides them or nests them. NOTE: a `## ` line inside
// a code block of a comment would be reported too; the generated documents have none.
//
// Prints one line per problem as FILE:LINE: PARSER: MESSAGE and exits 1 when there is any,
// 2 on a usage error, 0 when every file parses.

import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { Parser } from '@dbml/core';
import MarkdownIt from 'markdown-it';
import mermaid11 from 'mermaid';
import mermaid10 from 'mermaid-10';
import { parseFragment } from 'parse5';

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

const markdown = new MarkdownIt({ html: true });
// Each heading carries the source line it came from, so a lost heading can be named.
markdown.renderer.rules.heading_open = (tokens, index, options, env, self) => {
  tokens[index].attrSet('data-source-line', String(tokens[index].map[0] + 1));
  return self.renderToken(tokens, index, options);
};

// Returns a problem for each `## ` or `### ` line of a Markdown text that does not end up as
// a heading at the top level of the rendered page.
function checkHeadings(text) {
  const rendered = new Set();
  for (const node of parseFragment(markdown.render(text)).childNodes) {
    if (node.tagName === 'h2' || node.tagName === 'h3') {
      const line = node.attrs.find((attribute) => attribute.name === 'data-source-line');
      if (line) rendered.add(Number(line.value));
    }
  }
  const problems = [];
  text.split('\n').forEach((line, index) => {
    if (/^#{2,3} /.test(line) && !rendered.has(index + 1)) {
      problems.push([
        index + 1,
        'markdown: this heading does not render at the top level of the page; text before it leaves a code fence, an HTML comment or an element open',
      ]);
    }
  });
  return problems;
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
    const problems = checkHeadings(text);
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
