// Types of redact.mjs for TypeScript code (the step host is plain JavaScript so it runs without a
// compile step; the engine reuses its redaction for what it stores).

/** What every redacted value becomes; the same for every value, so its length never shows. */
export declare const REDACTED: '[redacted]'

/** The literal forms to redact for secret values (raw, base64, URL-encoded, JSON-escaped, lines of multi-line values); longest first. */
export declare function redactionForms(values: readonly string[], extra?: readonly string[]): string[]

/** Replaces every form (also inside percent-encoded text) with REDACTED. `truncated`: a cut line, whose tail may start a value. */
export declare function createRedactor(forms: readonly string[]): (text: string, truncated?: boolean) => string
