/**
 * Reading the XML answers of the XML-speaking protocols (S3, GCS XML multipart, Azure): the only
 * fast-xml-parser importer. Values stay strings (an ETag or a block id must not become a number);
 * a body that is not XML reads as an empty document, so every caller sees "field missing".
 */
import { XMLParser } from 'fast-xml-parser';

const parser = new XMLParser({ parseTagValue: false, ignoreDeclaration: true });

export function parseXml(body: string): Record<string, unknown> {
  try {
    return parser.parse(body) as Record<string, unknown>;
  } catch {
    return {};
  }
}
