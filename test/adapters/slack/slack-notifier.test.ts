import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BlockLimitError } from "../../../functions/adapters/slack/slack-block-kit.ts";
import { messageKind } from "../../../functions/adapters/slack/slack-notifier.ts";

describe("messageKind", () => {
  const kind = messageKind({
    schema: z.object({ auditID: z.string(), pod: z.string() }),
    auditID: (value) => value.auditID,
    render: () => {
      throw new BlockLimitError("51 blocks in the attachment, limit 50");
    },
    line: (value) => `alert for \`${value.pod}\``,
  });

  it("turns a rendering failure into a plain one-line alert instead of dropping it", () => {
    expect(kind({ auditID: "a-1", pod: "shop/api" }, { region: undefined })).toEqual({
      ok: true,
      auditID: "a-1",
      key: "a-1",
      cluster: "unknown",
      renderError: "BlockLimitError: 51 blocks in the attachment, limit 50",
      message: {
        text: "alert for `shop/api`\nAudit ID `a-1`. _The detailed message could not be rendered; see notify-slack's logs._",
        unfurl_links: false,
        unfurl_media: false,
      },
    });
  });

  it("reports schema problems without rendering", () => {
    const result = kind({ auditID: 7 }, { region: undefined });
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.problem).toMatch(/auditID/);
  });
});
