// docs/profiles.md is generated (src/docs/profiles.ts) from the profiles and the policies'
// own descriptions; these tests fail when it is stale or when a profile field is described
// nowhere, so the table and the code cannot drift apart.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { profilesMarkdown, PROFILES_DOC } from "../../src/docs/profiles.js";
import { POLICIES } from "../../stack/tcp/policies.js";
import { KNOBS, PROFILE_NAMES, PROFILES } from "../../stack/tcp/profiles.js";

const ROOT = join(import.meta.dirname, "..", "..");

describe("docs/profiles.md, the profile x behaviour table", () => {
  it("is what `npm run docs:profiles` generates from the code (regenerate it after changing a profile or a policy)", () => {
    const committed = readFileSync(join(ROOT, PROFILES_DOC), "utf8");
    expect(committed).toBe(profilesMarkdown());
  });

  it("describes every profile field exactly once, as a policy or as a knob", () => {
    const policyFields = POLICIES.map((p) => p.policy.field as string);
    const knobFields = Object.keys(KNOBS);
    expect(new Set(policyFields).size).toBe(policyFields.length);
    for (const name of PROFILE_NAMES) {
      expect([...policyFields, ...knobFields].sort(), name).toEqual(Object.keys(PROFILES[name]).sort());
    }
  });

  it("each profile's choice is one the policy describes, with a meaning and a source", () => {
    for (const { policy } of POLICIES) {
      for (const [choice, c] of Object.entries(policy.choices) as Array<[string, { meaning: string; source: string }]>) {
        expect(c.meaning.length, `${policy.field}.${choice}`).toBeGreaterThan(5);
        expect(c.source.length, `${policy.field}.${choice}`).toBeGreaterThan(2);
      }
      for (const name of PROFILE_NAMES) expect(Object.keys(policy.choices), `${name}.${policy.field}`).toContain(PROFILES[name][policy.field]);
      for (const k of policy.knobs ?? []) expect(Object.keys(PROFILES.windows), `${policy.field} reads ${k}`).toContain(k);
    }
  });

  it("names, for each policy, the file that implements it, and that file acts on the policy's field", () => {
    for (const { policy, file } of POLICIES) {
      const path = join(ROOT, file);
      expect(existsSync(path), file).toBe(true);
      const text = readFileSync(path, "utf8");
      expect(text, `${file} describes ${policy.field}`).toContain(`field: "${policy.field}"`);
      // It reads the field (p.synSentRst), or switches on the choices (options.ts: case "linux").
      const reads = new RegExp(`\\.${policy.field}\\b`).test(text) || Object.keys(policy.choices).every((c) => text.includes(`case "${c}"`));
      expect(reads, `${file} reads ${policy.field}`).toBe(true);
    }
  });
});
