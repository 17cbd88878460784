/**
 * Client-chosen text for Slack and Teams: no markup survives escaping (links, mentions, HTML,
 * Markdown, new lines, reordering controls), and nothing is lost — undoing the escapes gives the
 * text back, but for the invisible characters, which show as U+FFFD.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clip, slackText, teamsText } from './markup.js';

const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const shown = (s: string) => s.replace(INVISIBLE, '\ufffd');
/** Strings rich in what markup is made of. */
const hostile = fc.string({
  unit: fc.oneof(fc.constantFrom(...'<>&@!#|*_~`[]()\\{}-+=.1 \n\r\t\u202e\u2028:/'.split(''), '<!channel>', '<@U123>', '@here', 'http://evil.example', '&amp;', '&lt;'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
});

describe('Slack mrkdwn', () => {
  it('neutralises links, special mentions, user mentions and new lines', () => {
    expect(slackText('<!channel> <!here|here> <@U123> <#C1> <http://evil.example|your bank> & @here @channel a@b.example')).toBe(
      '&lt;!channel&gt; &lt;!here|here&gt; &lt;@\u2060U123&gt; &lt;#C1&gt; &lt;http://evil.example|your bank&gt; &amp; @\u2060here @\u2060channel a@b.example',
    );
    expect(slackText('alice\n• *Decision:* allow')).toBe('alice\ufffd• *Decision:* allow');
    expect(slackText('abc\u202Egnp.exe')).toBe('abc\ufffdgnp.exe');
  });

  it('neutralises every @ of a run (a property run found "@@here" left the second one bare)', () => {
    expect(slackText('@@here')).toBe('@\u2060@\u2060here');
  });

  it('never leaves <, >, a bare & or an @ that can mention, and undoing the escapes gives the text back', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const out = slackText(s);
        expect(out).not.toMatch(/[<>]/);
        expect(out).not.toMatch(/&(?!amp;|lt;|gt;)/);
        expect(out).not.toMatch(/(^|[^\w.%+-])@(?!\u2060)/);
        expect(out).not.toMatch(INVISIBLE);
        const undone = out.replace(/@\u2060/g, '@').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
        expect(undone).toBe(shown(s).replace(/@\u2060/g, '@'));
      }),
    );
  });
});

describe('Teams Markdown', () => {
  it('neutralises links, emphasis, HTML, mentions, headings and list markers', () => {
    expect(teamsText('[your bank](http://evil.example) **urgent** _x_ <at>Boss</at> & ~~y~~ `z` |t|')).toBe(
      '\\[your bank\\]\\(http://evil.example\\) \\*\\*urgent\\*\\* \\_x\\_ &lt;at&gt;Boss&lt;/at&gt; &amp; \\~\\~y\\~\\~ \\`z\\` \\|t\\|',
    );
    expect(teamsText('# heading')).toBe('\\# heading');
    expect(teamsText('- item')).toBe('\\- item');
    expect(teamsText('1. item')).toBe('1\\. item');
    expect(teamsText('payments-app.orders')).toBe('payments-app.orders');
    expect(teamsText('a\r\nb')).toBe('a\ufffd\ufffdb');
  });

  it('never leaves markup unescaped, and undoing the escapes gives the text back', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const out = teamsText(s);
        expect(out).not.toMatch(/[<>]/);
        expect(out).not.toMatch(/&(?!amp;|lt;|gt;)/);
        // Every Markdown punctuation character is escaped (preceded by an odd run of backslashes).
        for (const m of out.matchAll(/\\*[`*_~#[\]()|!{}]/g)) expect((m[0].length - 1) % 2).toBe(1);
        expect(out).not.toMatch(/^[-+=]|^\d+[.)]/);
        expect(out).not.toMatch(INVISIBLE);
        const undone = out.replace(/\\(.)/g, '$1').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
        expect(undone).toBe(shown(s));
      }),
    );
  });
});

describe('clip', () => {
  it('bounds a value, marks the cut, and never splits a surrogate pair', () => {
    expect(clip('short', 10)).toBe('short');
    expect(clip('0123456789abc', 10)).toBe('012345678…');
    expect(clip('12345678😀x', 10)).toBe('12345678…');
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: 2, max: 50 }), (s, n) => {
      const c = clip(s, n);
      expect(c.length).toBeLessThanOrEqual(n);
      expect(c).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    }));
  });
});
