// The lab's namespaces (src/lab/lab.ts): a lab left behind by a process that died is removed
// the next time a lab starts; a running process's lab is kept. Root only.
import { describe, expect, it } from "vitest";
import { Lab, removeStaleLabs } from "../../src/lab/lab.js";
import { createNetns, netnsExists, deleteNetns } from "../../device/netns.js";

const why = Lab.unavailableReason();

describe.skipIf(why !== undefined)(`lab namespaces${why ? ` (skipped: ${why})` : ""}`, () => {
  it("a lab left behind by a killed process (dead pid in its name) is removed; a live one is kept", () => {
    const dead = "synack-lab-4194000-7"; // above the default pid_max: no such process
    const live = `synack-lab-${process.ppid}-99`;
    createNetns(dead);
    createNetns(live);
    try {
      expect(removeStaleLabs()).toContain(dead);
      expect(netnsExists(dead)).toBe(false);
      expect(netnsExists(live)).toBe(true);
    } finally {
      deleteNetns(dead);
      deleteNetns(live);
    }
  });

});
