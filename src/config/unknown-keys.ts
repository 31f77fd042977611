// Names in a config file that no setting has, at any depth (DJOSER.SEND_ACTIVATON_EMAIL), each
// with the nearest known name: zod drops unknown keys silently, so a typo would switch nothing on.
import { z } from "zod";
import { didYouMean } from "./suggest.ts";

/** Strips default/optional/nullable wrappers down to the schema that holds the shape. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodNullable)
    s = s.unwrap() as z.ZodType;
  return s;
}

/** "DJOSER.SEND_ACTIVATON_EMAIL is not a setting … (did you mean SEND_ACTIVATION_EMAIL?)", one per unknown key. */
export function unknownKeys(schema: z.ZodType, data: unknown, path: string[] = []): string[] {
  const s = unwrap(schema);
  if (s instanceof z.ZodArray && Array.isArray(data))
    return data.flatMap((item, i) => unknownKeys(s.element as z.ZodType, item, [...path, String(i)]));
  if (!(s instanceof z.ZodObject) || typeof data !== "object" || data === null || Array.isArray(data)) return [];
  if (s.def.catchall) return []; // open-ended (SOCIAL_AUTH: any provider's keys)
  const shape = s.shape as Record<string, z.ZodType>;
  return Object.entries(data).flatMap(([key, value]) => {
    const field = shape[key];
    if (field) return unknownKeys(field, value, [...path, key]);
    const name = [...path, key].join(".");
    return [`${name} is not a setting Portcullis honours; ignored${didYouMean(key, Object.keys(shape))}`];
  });
}
