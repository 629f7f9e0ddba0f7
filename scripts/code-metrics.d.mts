// Types of scripts/code-metrics.mjs, for test/unit/code-metrics.test.ts.
export interface FileLines { file: string; lines: number }
export interface ClassMetrics { file: string; name: string; line: number; lines: number; fields: number }
export interface FunctionMetrics { file: string; name: string; line: number; lines: number }
export interface Leak { file: string; line: number; kind: 'code' | 'string' | 'import' | 'comment'; term: string; text: string }
export interface SourceMetrics { file: string; lines: number; classes: ClassMetrics[]; functions: FunctionMetrics[]; leaks: Leak[] }
export interface Report {
  thresholds: typeof THRESHOLDS;
  files: FileLines[];
  classes: ClassMetrics[];
  functions: { count: number; p50: number; p90: number; max: number; longest: FunctionMetrics[] };
  leaks: Leak[];
  exceeded: { files: FileLines[]; classes: ClassMetrics[]; p90: boolean; leaks: Leak[] };
  failed: boolean;
}
export declare const THRESHOLDS: { fileLines: number; classLines: number; classFields: number; p90FunctionLines: number };
export declare const PROTOCOL_HOMES: string[];
export declare function identifierWords(name: string): string[];
export declare function leakTerms(text: string, kind: Leak['kind']): { term: string; index: number }[];
export declare function measureSource(fileName: string, text: string, options?: { checkLeaks?: boolean }): SourceMetrics;
export declare function percentile(values: number[], p: number): number;
export declare function isProtocolHome(relativePath: string): boolean;
export declare function summarize(measured: SourceMetrics[]): Report;
export declare function measureTree(root: string): Report;
export declare function toMarkdown(report: Report, root: string): string;
