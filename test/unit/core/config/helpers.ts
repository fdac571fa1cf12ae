/**
 * Shared by the config unit tests: validation with node's gunzip, and entries as the
 * reference prints them, for comparing as lists or as sets.
 */
import { gunzipSync } from 'node:zlib';
import { formatEntry } from '../../../../agent/core/config/report.js';
import {
  checkSource, validateSources, validateText, type ConfigResult, type ConfigSource,
} from '../../../../agent/core/config/validate.js';

export const gunzip = (data: Uint8Array): Uint8Array => gunzipSync(data);

export function validate(text: string, file?: string): ConfigResult {
  return validateText(text, file === undefined ? { gunzip } : { gunzip, file });
}

export function validateAll(sources: ConfigSource[]): ConfigResult {
  return validateSources(sources, { gunzip });
}

/** The entries as `line N: level: message` (with the file when one is named). */
export function lines(result: ConfigResult): string[] {
  return result.entries.map((e) => formatEntry(e));
}

/** The entries of validating `text`, as the reference prints them. */
export function report(text: string): string[] {
  return lines(validate(text));
}

export function sorted(values: readonly string[]): string[] {
  return [...values].sort();
}

/** The entries of the first stage only (parse and the reference's rules) for one text. */
export function ruleReport(text: string): string[] {
  return checkSource({ text }, { gunzip }).entries.map((e) => formatEntry(e));
}
