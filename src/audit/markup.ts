/**
 * Text for people's chat tools made from strings a client or its token chose (claimed user names,
 * principals, group and transactional ids, reasons that quote them): shown as the text it is,
 * never read as markup.
 *
 *  - Slack (mrkdwn): `&`, `<` and `>` become `&amp;`, `&lt;`, `&gt;`, as Slack's formatting docs
 *    ask, so no `<!channel>`, `<@U…>`, `<#C…>` or disguised link `<http://x|text>` can be formed;
 *    an `@` where a mention could start gets a word joiner (U+2060) after it, so `@here`,
 *    `@channel` or `@someone` never notify anyone, even where names are linked. (Slack has no
 *    escape for its emphasis characters `*`, `_`, `~` and `` ` ``: a value can still make text
 *    bold or italic, but not a link, a mention or a new line.)
 *  - Teams (connector cards: Markdown and a little HTML in every text field): Markdown's
 *    punctuation gets a backslash, a list marker at the start is escaped, and `&`, `<` and `>`
 *    become entities, which read as the characters under Markdown and HTML alike.
 *  - Both: control characters, line and paragraph separators and bidirectional overrides (a new
 *    line that fakes another fact, text shown in another order than it is) become U+FFFD.
 *
 * `clip` bounds a value before it is escaped, so that a message stays within what the service
 * accepts: a name long enough to make Slack refuse the message would otherwise suppress the alert
 * it is in. The generic webhook carries the raw values as JSON data and uses none of this.
 */

/** Characters that move or reorder text instead of showing: C0/C1 controls, U+2028/9, bidi marks, embeddings, overrides and isolates. */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const REPLACEMENT = '\ufffd';
/** An `@` at the start or after anything that cannot be part of an e-mail address's local part. */
const MENTION_AT = /(?<![\w.%+-])@/g;
const WORD_JOINER = '\u2060';
/** Markdown's punctuation that can start or end emphasis, code, links, images, headings, tables or escapes. */
const MARKDOWN = /[\\`*_~#[\]()|!{}]/g;

/** At most `max` characters (UTF-16 units), the last one `…` when cut; never half a surrogate pair. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max - 1);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Text for Slack mrkdwn. */
export function slackText(s: string): string {
  return s
    .replace(INVISIBLE, REPLACEMENT)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(MENTION_AT, `@${WORD_JOINER}`);
}

/** Text for a Teams connector card field (Markdown, limited HTML). */
export function teamsText(s: string): string {
  return s
    .replace(INVISIBLE, REPLACEMENT)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(MARKDOWN, '\\$&')
    .replace(/^(\d+)([.)])/, '$1\\$2')
    .replace(/^([-+=])/, '\\$1');
}
