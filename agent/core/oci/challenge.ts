/**
 * `WWW-Authenticate` challenges of a registry (RFC 7235 as distribution sends them):
 * `Bearer realm="https://auth.example.com/token",service="registry",scope="repository:x:pull"`
 * or `Basic realm="Registry"`. Several challenges in one header are split on the scheme
 * names; parameter values may be quoted (with `\` escapes) or bare tokens. Pure.
 */

export interface Challenge {
  /** Lowercase: `bearer`, `basic`, … */
  scheme: string;
  params: Record<string, string>;
}

const PARAM = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/y;
const SCHEME = /\s*,?\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?=\s|$)/y;

/** Every challenge of the header(s), in order; unparsable text ends the list. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const texts = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const text of texts) {
    let at = 0;
    while (at < text.length) {
      SCHEME.lastIndex = at;
      const scheme = SCHEME.exec(text);
      if (!scheme) break;
      at = SCHEME.lastIndex;
      const params: Record<string, string> = {};
      for (;;) {
        PARAM.lastIndex = at;
        const param = PARAM.exec(text);
        if (!param) break;
        params[(param[1] as string).toLowerCase()] = param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : (param[3] as string);
        at = PARAM.lastIndex;
      }
      out.push({ scheme: (scheme[1] as string).toLowerCase(), params });
      if (text.slice(at).trim() === '') break;
    }
  }
  return out;
}
