import { readdirSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Validates an event against the OCSF schema files vendored in test/fixtures/ocsf/<version> (see the README
 * there for where they come from). What it checks, as the OCSF server's validator does:
 * - every attribute is defined by the class or object (only `unmapped`, of type `object`, and `json_t`
 *   values are free-form), and an attribute that a profile brings is used only when metadata.profiles
 *   names that profile;
 * - required attributes are present (a profile's only when the profile is applied);
 * - types: arrays where the schema says array and nowhere else, integers in range, ip_t a real address;
 * - enum values are defined, and an enum's string sibling is its caption (unless the value is Other, 99);
 * - type_uid is class_uid * 100 + activity_id; at-least-one constraints of objects hold.
 * An integer `*_id` attribute whose values were not vendored is refused: vendor the values first.
 */

interface AttributeSchema {
  type: string;
  object_type?: string;
  requirement: "required" | "recommended" | "optional";
  is_array?: boolean;
  profile?: string;
  enum?: Record<string, string>;
  sibling?: string;
}

interface EntitySchema {
  name: string;
  uid?: number;
  attributes: Record<string, AttributeSchema>;
  constraints?: { at_least_one?: string[] };
}

interface TypeSchema {
  base: "boolean" | "integer" | "number" | "string" | "json";
  min?: number;
  max?: number;
  format?: "ip";
}

export interface OcsfSchema {
  version: string;
  classes: Record<string, EntitySchema>;
  objects: Record<string, EntitySchema>;
  types: Record<string, TypeSchema>;
}

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "ocsf");

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

function readEntities(dir: string): Record<string, EntitySchema> {
  return Object.fromEntries(
    readdirSync(dir)
      .filter((file) => file.endsWith(".json"))
      .map((file) => {
        const entity = readJson<EntitySchema>(join(dir, file));
        return [entity.name, entity];
      }),
  );
}

export function loadOcsfSchema(version: string): OcsfSchema {
  const root = join(FIXTURES, version);
  return {
    version,
    classes: readEntities(join(root, "classes")),
    objects: readEntities(join(root, "objects")),
    types: readJson<Record<string, TypeSchema>>(join(root, "types.json")),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every problem, as `path: message`; an empty list means the event is valid. */
export function validateOcsfEvent(schema: OcsfSchema, className: string, event: unknown): string[] {
  const problems: string[] = [];
  const entity = schema.classes[className];
  if (!entity) return [`class ${className} is not vendored`];
  if (!isRecord(event)) return ["$: an event is a JSON object"];
  const metadata = event.metadata;
  const profiles = new Set(
    isRecord(metadata) && Array.isArray(metadata.profiles) ? metadata.profiles.map(String) : [],
  );
  if (isRecord(metadata) && metadata.version !== schema.version) {
    problems.push(`metadata.version: ${String(metadata.version)}, validated against ${schema.version}`);
  }

  const checkScalar = (path: string, type: string, value: unknown) => {
    const scalar = schema.types[type];
    if (!scalar) {
      problems.push(`${path}: type ${type} is not vendored`);
      return;
    }
    switch (scalar.base) {
      case "json":
        return;
      case "boolean":
        if (typeof value !== "boolean") problems.push(`${path}: ${type} must be a boolean`);
        return;
      case "number":
        if (typeof value !== "number" || !Number.isFinite(value))
          problems.push(`${path}: ${type} must be a number`);
        return;
      case "integer":
        if (typeof value !== "number" || !Number.isSafeInteger(value)) {
          problems.push(`${path}: ${type} must be an integer`);
        } else if (
          (scalar.min !== undefined && value < scalar.min) ||
          (scalar.max !== undefined && value > scalar.max)
        ) {
          problems.push(`${path}: ${value} is outside ${type}`);
        }
        return;
      case "string":
        if (typeof value !== "string") problems.push(`${path}: ${type} must be a string`);
        else if (scalar.format === "ip" && isIP(value) === 0)
          problems.push(`${path}: ${JSON.stringify(value)} is not an IP address`);
        return;
    }
  };

  const checkEntity = (path: string, target: EntitySchema, value: Record<string, unknown>) => {
    for (const [name, attribute] of Object.entries(target.attributes)) {
      const applies = attribute.profile === undefined || profiles.has(attribute.profile);
      if (applies && attribute.requirement === "required" && value[name] === undefined) {
        problems.push(`${path}${name}: required`);
      }
    }
    for (const [name, item] of Object.entries(value)) {
      const at = `${path}${name}`;
      const attribute = target.attributes[name];
      if (!attribute) {
        problems.push(`${at}: not an attribute of ${target.name}`);
        continue;
      }
      if (attribute.profile !== undefined && !profiles.has(attribute.profile)) {
        problems.push(`${at}: belongs to profile ${attribute.profile}, not in metadata.profiles`);
      }
      if (attribute.is_array === true) {
        if (!Array.isArray(item)) {
          problems.push(`${at}: must be an array`);
          continue;
        }
        for (const [index, element] of item.entries()) {
          checkValue(`${at}[${index}]`, attribute, element, target, value);
        }
      } else if (Array.isArray(item)) {
        problems.push(`${at}: must not be an array`);
      } else {
        checkValue(at, attribute, item, target, value);
      }
    }
    const atLeastOne = target.constraints?.at_least_one;
    if (atLeastOne && !atLeastOne.some((name) => value[name] !== undefined)) {
      problems.push(`${path || "$"}: needs at least one of ${atLeastOne.join(", ")}`);
    }
  };

  const checkValue = (
    path: string,
    attribute: AttributeSchema,
    value: unknown,
    owner: EntitySchema,
    ownerValue: Record<string, unknown>,
  ) => {
    if (value === null) {
      problems.push(`${path}: null is not a value`);
      return;
    }
    if (attribute.type === "object_t") {
      const objectType = attribute.object_type ?? "";
      if (!isRecord(value)) {
        problems.push(`${path}: ${objectType} must be an object`);
        return;
      }
      if (objectType === "object") return; // `unmapped`: free-form by definition.
      const nested = schema.objects[objectType];
      if (!nested) {
        problems.push(`${path}: object ${objectType} is not vendored`);
        return;
      }
      checkEntity(`${path}.`, nested, value);
      return;
    }
    checkScalar(path, attribute.type, value);
    const name = path.slice(path.lastIndexOf(".") + 1).replace(/\[\d+\]$/, "");
    if (attribute.enum) {
      const caption = attribute.enum[String(value)];
      if (caption === undefined) {
        problems.push(`${path}: ${String(value)} is not a value of ${owner.name}.${name}`);
        return;
      }
      const siblingValue = attribute.sibling ? ownerValue[attribute.sibling] : undefined;
      if (siblingValue !== undefined && value !== 99 && siblingValue !== caption) {
        problems.push(
          `${path}: sibling ${attribute.sibling} is ${JSON.stringify(siblingValue)}, not ${caption}`,
        );
      }
    } else if (attribute.type === "integer_t" && name.endsWith("_id")) {
      problems.push(`${path}: the values of ${owner.name}.${name} are not vendored`);
    }
  };

  checkEntity("", entity, event);
  if (
    typeof event.class_uid === "number" &&
    typeof event.activity_id === "number" &&
    event.type_uid !== event.class_uid * 100 + event.activity_id
  ) {
    problems.push(`type_uid: ${String(event.type_uid)} is not class_uid * 100 + activity_id`);
  }
  if (entity.uid !== undefined && event.class_uid !== entity.uid) {
    problems.push(`class_uid: ${String(event.class_uid)}, expected ${entity.uid}`);
  }
  return problems;
}
