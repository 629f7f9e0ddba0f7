// npm run metrics [-- --root DIR] [--json] [--fail]: the redesign's figures for src/, measured with
// the TypeScript parser (no type checking): file, class and function lengths, fields per class, and
// protocol names that leak out of the protocol, testing and CLI folders. --fail exits 1 when a
// threshold is exceeded; it is not part of npm test.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ts from 'typescript';

export const THRESHOLDS = { fileLines: 300, classLines: 250, classFields: 15, p90FunctionLines: 30 };

/** Folders (relative to the measured root) where protocol names belong. */
export const PROTOCOL_HOMES = ['protocols/', 'testing/', 'cli/'];

// Header prefixes and tus header names are matched case-insensitively, as HTTP reads them.
const HEADER_TERMS = [
  ['x-goog-', /x-goog-/i],
  ['x-amz-', /x-amz-/i],
  ['x-ms-', /x-ms-/i],
  ['Upload-Offset', /upload-offset/i],
  ['Tus-Resumable', /tus-resumable/i],
];
// S3's names are matched as S3 spells them, so the parts seam's own verbs (listParts, putPart) and
// HTTP's lowercase `etag` header are not mistaken for S3. A following lowercase letter means another
// word (UploadPartial), except a plural s.
const S3_NAMES = ['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload', 'ListParts', 'AbortMultipartUpload', 'PutObject', 'UploadId', 'ETag'];
const TUS_WORD = /(?<![A-Za-z0-9])tus(?![A-Za-z0-9])/i;
const S3_TERMS = S3_NAMES.map((name) => [name, new RegExp(`${name}(?![a-rt-z])(?!s[a-z])`)]);

/** Words of an identifier: camelCase, PascalCase, snake_case and digits split apart. */
export function identifierWords(name) {
  return name.split(/[_$]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])/).filter(Boolean);
}

/** The leak terms found in one piece of text of the given kind ('code' is an identifier), each with where it starts. */
export function leakTerms(text, kind) {
  const found = [];
  for (const [term, pattern] of [...HEADER_TERMS, ...S3_TERMS]) {
    const match = pattern.exec(text);
    if (match) found.push({ term, index: match.index });
  }
  const isTus = kind === 'code' ? identifierWords(text).some((word) => word.toLowerCase() === 'tus') : TUS_WORD.test(text);
  if (isTus && !found.some((f) => f.term === 'Tus-Resumable')) found.push({ term: 'tus', index: Math.max(0, text.search(kind === 'code' ? /tus/i : TUS_WORD)) });
  return found;
}

const lineOf = (source, pos) => source.getLineAndCharacterOfPosition(pos).line + 1;
const spanOf = (source, node) => lineOf(source, node.end) - lineOf(source, node.getStart(source)) + 1;

function nameOf(node) {
  if (node.name && (ts.isIdentifier(node.name) || ts.isPrivateIdentifier(node.name) || ts.isStringLiteral(node.name))) return node.name.text;
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyDeclaration(parent) || ts.isPropertyAssignment(parent)) && parent.name && ts.isIdentifier(parent.name)) return parent.name.text;
  return '<anonymous>';
}

function isMeasuredFunction(node) {
  if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node)) {
    return node.body !== undefined;
  }
  return (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) && ts.isBlock(node.body);
}

function countFields(node) {
  let fields = 0;
  for (const member of node.members) {
    if (ts.isPropertyDeclaration(member)) fields += 1;
    if (ts.isConstructorDeclaration(member)) fields += member.parameters.filter((p) => ts.isParameterPropertyDeclaration(p, member)).length;
  }
  return fields;
}

/** About 80 characters of `text` around `index`, on one line. */
function excerpt(text, index) {
  const start = Math.max(0, index - 30);
  const flat = text.slice(start, start + 80).replace(/\s+/g, ' ').trim();
  return `${start > 0 ? '…' : ''}${flat}${start + 80 < text.length ? '…' : ''}`;
}

function isModuleSpecifier(node) {
  const parent = node.parent;
  return parent !== undefined && (ts.isImportDeclaration(parent) || ts.isExportDeclaration(parent)) && parent.moduleSpecifier === node;
}

function leakKindOf(node) {
  if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) return 'code';
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateLiteralToken(node)) return isModuleSpecifier(node) ? 'import' : 'string';
  return undefined;
}

function collectComments(source, add) {
  const seen = new Set();
  const text = source.getFullText();
  const visit = (node) => {
    const ranges = [...(ts.getLeadingCommentRanges(text, node.pos) ?? []), ...(ts.getTrailingCommentRanges(text, node.end) ?? [])];
    for (const range of ranges) {
      if (seen.has(range.pos)) continue;
      seen.add(range.pos);
      add('comment', range.pos, text.slice(range.pos, range.end));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  // A file of only comments, or comments after the last statement, hang off the end-of-file token.
  visit(source.endOfFileToken);
}

/**
 * Measures one TypeScript source: its line count, each class (lines, fields), each function with a
 * body (lines) and, when `checkLeaks`, each protocol name found in code, strings, module specifiers
 * and comments.
 */
export function measureSource(fileName, text, { checkLeaks = true } = {}) {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lines = text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  const classes = [];
  const functions = [];
  const leaks = [];
  const addLeaks = (kind, pos, piece) => {
    for (const { term, index } of leakTerms(piece, kind)) leaks.push({ file: fileName, line: lineOf(source, pos + index), kind, term, text: excerpt(piece, index) });
  };
  const visit = (node, owner) => {
    let inner = owner;
    if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) {
      const name = node.name?.text ?? nameOf(node);
      classes.push({ file: fileName, name, line: lineOf(source, node.getStart(source)), lines: spanOf(source, node), fields: countFields(node) });
      inner = name;
    }
    if (isMeasuredFunction(node)) {
      const name = owner !== undefined && node.parent && (ts.isClassDeclaration(node.parent) || ts.isClassExpression(node.parent)) ? `${owner}.${nameOf(node)}` : nameOf(node);
      functions.push({ file: fileName, name, line: lineOf(source, node.getStart(source)), lines: spanOf(source, node) });
    }
    if (checkLeaks) {
      const kind = leakKindOf(node);
      if (kind !== undefined) addLeaks(kind, node.getStart(source), node.text);
    }
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(source, undefined);
  if (checkLeaks) collectComments(source, addLeaks);
  leaks.sort((a, b) => a.line - b.line);
  return { file: fileName, lines, classes, functions, leaks };
}

/** Nearest-rank percentile of a list of numbers (0 when empty). */
export function percentile(values, p) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

function listSources(root) {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.[cm]?ts$/.test(entry.name) && !/\.d\.[cm]?ts$/.test(entry.name)) files.push(path);
    }
  };
  walk(root);
  return files.sort();
}

/** Whether a path relative to the measured root lies where protocol names belong. */
export function isProtocolHome(relativePath) {
  const posix = relativePath.split(sep).join('/');
  return PROTOCOL_HOMES.some((home) => posix.startsWith(home));
}

/** Sums per-file measurements into the report's figures and the thresholds they exceed. */
export function summarize(measured) {
  const files = measured.map(({ file, lines }) => ({ file, lines })).sort((a, b) => b.lines - a.lines);
  const classes = measured.flatMap((m) => m.classes).sort((a, b) => b.lines - a.lines);
  const functions = measured.flatMap((m) => m.functions).sort((a, b) => b.lines - a.lines);
  const leaks = measured.flatMap((m) => m.leaks);
  const lengths = functions.map((f) => f.lines);
  const stats = { count: lengths.length, p50: percentile(lengths, 50), p90: percentile(lengths, 90), max: lengths.length ? Math.max(...lengths) : 0 };
  const exceeded = {
    files: files.filter((f) => f.lines > THRESHOLDS.fileLines),
    classes: classes.filter((c) => c.lines > THRESHOLDS.classLines || c.fields > THRESHOLDS.classFields),
    p90: stats.p90 > THRESHOLDS.p90FunctionLines,
    leaks: leaks.filter((l) => l.kind !== 'comment'),
  };
  const failed = exceeded.files.length > 0 || exceeded.classes.length > 0 || exceeded.p90 || exceeded.leaks.length > 0;
  return { thresholds: THRESHOLDS, files, classes, functions: { ...stats, longest: functions.slice(0, 10) }, leaks, exceeded, failed };
}

/** Measures every .ts file under `root`; leaks are looked for outside PROTOCOL_HOMES only. */
export function measureTree(root) {
  const measured = listSources(root).map((path) => {
    const file = relative(root, path).split(sep).join('/');
    return measureSource(file, readFileSync(path, 'utf8'), { checkLeaks: !isProtocolHome(file) });
  });
  return summarize(measured);
}

const mark = (over) => (over ? ' **over**' : '');

function leakTable(leaks) {
  // A double-backtick span may hold single backticks; a pipe would still end the cell.
  const rows = leaks.map((l) => `| ${l.file}:${l.line} | ${l.kind} | ${l.term} | \`\` ${l.text.replace(/\|/g, '\\|')} \`\` |`);
  return ['| where | kind | term | text |', '|---|---|---|---|', ...rows];
}

/** The report as Markdown. */
export function toMarkdown(report, root) {
  const t = report.thresholds;
  const out = [`# Code metrics of ${root}`, ''];
  out.push(`## Files: ${report.exceeded.files.length} over ${t.fileLines} lines (of ${report.files.length})`, '', '| file | lines |', '|---|---|');
  const shown = report.files.filter((f, i) => i < 10 || f.lines > t.fileLines);
  for (const f of shown) out.push(`| ${f.file} | ${f.lines}${mark(f.lines > t.fileLines)} |`);
  out.push('', `## Classes: ${report.exceeded.classes.length} over ${t.classLines} lines or ${t.classFields} fields (of ${report.classes.length})`, '', '| class | file | lines | fields |', '|---|---|---|---|');
  for (const c of report.classes) out.push(`| ${c.name} | ${c.file}:${c.line} | ${c.lines}${mark(c.lines > t.classLines)} | ${c.fields}${mark(c.fields > t.classFields)} |`);
  const fn = report.functions;
  out.push('', `## Functions: ${fn.count}, p50 ${fn.p50}, p90 ${fn.p90}${mark(report.exceeded.p90)} (limit ${t.p90FunctionLines}), max ${fn.max}`, '', '| function | file | lines |', '|---|---|---|');
  for (const f of fn.longest) out.push(`| ${f.name} | ${f.file}:${f.line} | ${f.lines} |`);
  const comments = report.leaks.filter((l) => l.kind === 'comment');
  out.push('', `## Protocol names outside ${PROTOCOL_HOMES.join(', ')}: ${report.exceeded.leaks.length} in code, strings and imports`, '');
  if (report.exceeded.leaks.length > 0) out.push(...leakTable(report.exceeded.leaks), '');
  out.push(`### In comments (informational): ${comments.length}`, '');
  if (comments.length > 0) out.push(...leakTable(comments), '');
  out.push(`Thresholds ${report.failed ? 'exceeded' : 'met'}.`);
  return out.join('\n');
}

function main() {
  const { values } = parseArgs({ options: { root: { type: 'string' }, json: { type: 'boolean', default: false }, fail: { type: 'boolean', default: false } } });
  const root = values.root ?? fileURLToPath(new URL('../src', import.meta.url));
  const report = measureTree(root);
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${toMarkdown(report, root)}\n`);
  if (values.fail && report.failed) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
