// The namespaces a lab test file creates, removed after its last test (also when a test
// failed half-way). Push each name as soon as the namespace exists.
import { afterAll } from "vitest";
import { deleteNetns } from "../../device/netns.js";

/** A list to push namespace names into; each is deleted after all tests of the file. */
export function namespacesRemovedAfterAll(): string[] {
  const made: string[] = [];
  afterAll(() => {
    for (const ns of made) {
      try {
        deleteNetns(ns);
      } catch {
        // already gone
      }
    }
  });
  return made;
}
