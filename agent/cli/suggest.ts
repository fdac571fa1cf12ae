/**
 * "Did you mean": the known word closest to a mistyped one (Damerau–Levenshtein distance,
 * or a unique prefix), for verbs, sub-verbs and options. Pure.
 */
import { editDistance } from '../core/text/edit-distance.js';

/**
 * The candidate `word` most likely meant: the only one it is a prefix of, else the nearest
 * within a third of its length (at least 1, at most 3 edits); undefined when none is close.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const prefixed = candidates.filter((c) => c.startsWith(lower));
  if (lower.length >= 2 && prefixed.length === 1) return prefixed[0];
  const limit = Math.min(3, Math.max(1, Math.floor(lower.length / 3)));
  let best: { name: string; distance: number } | undefined;
  for (const c of candidates) {
    const distance = editDistance(lower, c);
    if (distance <= limit && (!best || distance < best.distance)) best = { name: c, distance };
  }
  return best?.name;
}

/** `Did you mean "X"? ` (to start a hint), or nothing. */
export function didYouMean(word: string, candidates: readonly string[], quote = (s: string): string => `"${s}"`): string {
  const guess = closest(word, candidates);
  return guess === undefined ? '' : `Did you mean ${quote(guess)}? `;
}
