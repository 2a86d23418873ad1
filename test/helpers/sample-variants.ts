import { loadAuditJson } from "./events.ts";

/**
 * The parts of a sample audit event that tests vary. Samples stay the source of truth: a variant is a file
 * from events/audit with one documented change, so that a table can sweep a list (every capability, …)
 * without a file per entry.
 */
export interface SampleContainer {
  name: string;
  targetContainerName?: string;
  securityContext?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface SampleIdentity {
  username: string;
  groups?: string[];
  uid?: string;
}

export interface SampleEvent {
  auditID: string;
  verb: string;
  stage: string;
  level: string;
  user: SampleIdentity;
  impersonatedUser?: SampleIdentity;
  userAgent?: string;
  objectRef: { namespace: string; name: string; resource: string; subresource?: string; apiGroup?: string };
  responseStatus?: { code?: number; message?: string; reason?: string; status?: string };
  requestObject?: unknown;
  responseObject?: unknown;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export function loadSample(name: string): SampleEvent {
  return loadAuditJson(name) as unknown as SampleEvent;
}

/** The first container of a strategic merge patch sample (what kubectl debug sends). */
export function patchedContainer(event: SampleEvent): SampleContainer {
  const body = event.requestObject as { spec?: { ephemeralContainers?: SampleContainer[] } } | undefined;
  const container = body?.spec?.ephemeralContainers?.[0];
  if (!container) throw new Error(`sample ${event.auditID} is not a strategic merge patch with a container`);
  return container;
}

/** A sample with its patched container changed. */
export function withContainer(name: string, change: (container: SampleContainer) => void): SampleEvent {
  const event = loadSample(name);
  change(patchedContainer(event));
  return event;
}

export function variant(name: string, change: (event: SampleEvent) => void): SampleEvent {
  const event = loadSample(name);
  change(event);
  return event;
}
