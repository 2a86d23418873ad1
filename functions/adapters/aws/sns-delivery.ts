import * as z from "zod";

/**
 * An SNS → Lambda delivery, as far as the topic's subscribers (notify-slack, remediate) read it: each
 * record's message body and its message attributes. Everything else in the record is ignored.
 */
export const SnsDeliverySchema = z.object({
  Records: z.array(
    z.object({
      Sns: z.object({
        MessageId: z.string().optional(),
        Message: z.string(),
        MessageAttributes: z
          .record(z.string(), z.object({ Type: z.string().optional(), Value: z.string().optional() }))
          .optional(),
      }),
    }),
  ),
});
export type SnsDeliveryRecord = z.infer<typeof SnsDeliverySchema>["Records"][number];
