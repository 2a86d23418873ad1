import { plainText } from "./slack-escape.ts";

/**
 * The part of Block Kit the notifier uses, with Slack's documented limits. Each builder enforces its limit
 * so that a message built from any finding is accepted (Slack rejects the whole message otherwise).
 */
export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3_000,
  fieldText: 2_000,
  fields: 10,
  headerText: 150,
  contextElements: 10,
  /** The notification/fallback text; Slack truncates far above this, but a push notification shows little. */
  messageText: 3_000,
} as const;

export interface TextObject {
  type: "mrkdwn" | "plain_text";
  text: string;
  emoji?: boolean;
}

export type SlackBlock =
  | { type: "header"; text: TextObject & { type: "plain_text" } }
  | { type: "section"; text?: TextObject; fields?: TextObject[] }
  | { type: "context"; elements: TextObject[] }
  | { type: "divider" };

export interface SlackAttachment {
  color: string;
  fallback: string;
  blocks: SlackBlock[];
}

/**
 * What goes to the webhook. `text` is the notification (and what is shown when there are no top-level
 * blocks); top-level `blocks` hold the headline; the attachment's colour bar carries the severity.
 */
export interface SlackMessage {
  text: string;
  blocks?: SlackBlock[];
  attachments?: SlackAttachment[];
  unfurl_links: false;
  unfurl_media: false;
}

export class BlockLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BlockLimitError";
  }
}

function checkLength(text: string, max: number, what: string): string {
  if (text.length > max) throw new BlockLimitError(`${what} is ${text.length} characters, limit ${max}`);
  return text;
}

/** Header text is ours (never attacker text) but is still cut, with emoji shortcodes off. */
export function header(text: string): SlackBlock {
  return {
    type: "header",
    text: { type: "plain_text", text: plainText(text, { max: SLACK_LIMITS.headerText }), emoji: false },
  };
}

/** `text` must already be rendered mrkdwn within the limit (slack-escape does that). */
export function section(text: string): SlackBlock {
  return {
    type: "section",
    text: { type: "mrkdwn", text: checkLength(text, SLACK_LIMITS.sectionText, "section") },
  };
}

export function fieldsSection(fields: readonly string[]): SlackBlock {
  if (fields.length > SLACK_LIMITS.fields) {
    throw new BlockLimitError(`${fields.length} fields, limit ${SLACK_LIMITS.fields}`);
  }
  return {
    type: "section",
    fields: fields.map((text) => ({
      type: "mrkdwn",
      text: checkLength(text, SLACK_LIMITS.fieldText, "field"),
    })),
  };
}

export function context(elements: readonly string[]): SlackBlock {
  if (elements.length > SLACK_LIMITS.contextElements) {
    throw new BlockLimitError(`${elements.length} context elements, limit ${SLACK_LIMITS.contextElements}`);
  }
  return {
    type: "context",
    elements: elements.map((text) => ({
      type: "mrkdwn",
      text: checkLength(text, SLACK_LIMITS.sectionText, "context element"),
    })),
  };
}

export const divider: SlackBlock = { type: "divider" };

export interface MessageParts {
  /** Notification text, already rendered mrkdwn. */
  text: string;
  /** Shown above the coloured attachment; without them `text` is shown there instead. */
  headline?: SlackBlock[];
  color: string;
  details: SlackBlock[];
}

function checkBlockCount(blocks: readonly SlackBlock[], where: string): void {
  if (blocks.length > SLACK_LIMITS.blocks) {
    throw new BlockLimitError(`${blocks.length} blocks in ${where}, limit ${SLACK_LIMITS.blocks}`);
  }
}

export function message({ text, headline, color, details }: MessageParts): SlackMessage {
  checkBlockCount(headline ?? [], "the message");
  checkBlockCount(details, "the attachment");
  const notification = checkLength(text, SLACK_LIMITS.messageText, "message text");
  return {
    text: notification,
    ...(headline && headline.length > 0 ? { blocks: headline } : {}),
    attachments: [{ color, fallback: notification, blocks: details }],
    unfurl_links: false,
    unfurl_media: false,
  };
}

/** Text only: what is sent when Slack refuses the detailed message, so that the alert still arrives. */
export function plainMessage(text: string): SlackMessage {
  return {
    text: checkLength(text, SLACK_LIMITS.messageText, "message text"),
    unfurl_links: false,
    unfurl_media: false,
  };
}
