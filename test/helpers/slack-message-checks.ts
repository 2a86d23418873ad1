import { expect } from "vitest";
import {
  SLACK_LIMITS,
  type SlackBlock,
  type SlackMessage,
} from "../../functions/adapters/slack/slack-block-kit.ts";

/** Every text Slack will render, in order: notification text, then each block's texts. */
export function allTexts(message: SlackMessage): string[] {
  const texts = [message.text];
  for (const block of message.blocks ?? []) texts.push(...blockTexts(block));
  for (const attachment of message.attachments ?? []) {
    texts.push(attachment.fallback);
    for (const block of attachment.blocks) texts.push(...blockTexts(block));
  }
  return texts;
}

function blockTexts(block: SlackBlock): string[] {
  switch (block.type) {
    case "header":
      return [block.text.text];
    case "section":
      return [...(block.text ? [block.text.text] : []), ...(block.fields ?? []).map((field) => field.text)];
    case "context":
      return block.elements.map((element) => element.text);
    case "divider":
      return [];
  }
}

/** Slack's documented Block Kit limits, checked on the message as it would be sent. */
export function expectWithinSlackLimits(message: SlackMessage): void {
  expect(message.text.length).toBeLessThanOrEqual(SLACK_LIMITS.messageText);
  const blockLists = [
    message.blocks ?? [],
    ...(message.attachments ?? []).map((attachment) => attachment.blocks),
  ];
  for (const blocks of blockLists) {
    expect(blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    for (const block of blocks) {
      if (block.type === "header")
        expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
      if (block.type === "section") {
        expect(block.text !== undefined || (block.fields?.length ?? 0) > 0).toBe(true);
        if (block.text) {
          expect(block.text.text.length).toBeGreaterThan(0);
          expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
        }
        expect(block.fields?.length ?? 0).toBeLessThanOrEqual(SLACK_LIMITS.fields);
        for (const field of block.fields ?? []) {
          expect(field.text.length).toBeGreaterThan(0);
          expect(field.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
        }
      }
      if (block.type === "context")
        expect(block.elements.length).toBeLessThanOrEqual(SLACK_LIMITS.contextElements);
    }
  }
}

/**
 * The only control sequences the notifier writes itself: Slack date tokens, the console links, and links to
 * the ATT&CK pages of the catalogue's techniques (ids and names from functions/core/attack-techniques.ts).
 */
const OWN_SEQUENCES = [
  /<!date\^\d+\^\{date_short_pretty\} \{time_secs\}\|[0-9T:.Z-]+>/g,
  /<https:\/\/[a-z0-9-]+\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=[a-z0-9-]+#logsV2:logs-insights[^<>|\s]+\|Open (?:this audit event|the storm window) in CloudWatch Logs Insights>/g,
  /<https:\/\/attack\.mitre\.org\/techniques\/T\d{4}\/(?:\d{3}\/)?\|T\d{4}(?:\.\d{3})? [A-Za-z ]+>/g,
];

/** `text` without the sequences the notifier writes itself. */
export function withoutOwnSequences(text: string): string {
  let rest = text;
  for (const sequence of OWN_SEQUENCES) rest = rest.replace(sequence, "");
  return rest;
}

/**
 * Whether any text could make Slack mention, link or format something the notifier did not write: after
 * removing its own date tokens and link, no `<` or `>` may remain, nor any bare `&`.
 */
export function expectInert(message: SlackMessage): void {
  for (const text of allTexts(message)) {
    const rest = withoutOwnSequences(text);
    expect(rest, text.slice(0, 200)).not.toMatch(/[<>]/);
    expect(rest, text.slice(0, 200)).not.toMatch(/&(?!amp;|lt;|gt;)/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence.
    expect(rest).not.toMatch(/[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/);
    // Zero-width characters would let one name pass for another; the notifier shows them as [U+200B].
    expect(rest).not.toMatch(/[\u200B-\u200D\u2060\uFEFF]/);
  }
}
