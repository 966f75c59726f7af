// How an OS deviation from the RFCs is written down: a policy is a profile field holding
// one of a few named choices; the RFC step that the deviation changes asks the policy, and
// the file holding that step holds the policy's description (what each choice does, and
// where it comes from) beside the code. Knobs are the numbers and switches the choices
// read. docs/profiles.md is generated from these descriptions and the profile objects
// (src/docs/profiles.ts), so the table cannot drift from the code.
import type { Profile } from "./profiles.js";

/** One choice of a policy. */
export interface PolicyChoice {
  /** What the engine does under this choice, in one line. */
  meaning: string;
  /** Where the behaviour comes from: an RFC section, an OS function or measurement. */
  source: string;
}

/** Profile fields whose value is a policy choice (a string). */
type ChoiceField = { [F in keyof Profile]: Profile[F] extends string ? F : never }[keyof Profile];

export interface Policy<F extends ChoiceField = ChoiceField> {
  /** The profile field that picks the choice. */
  field: F;
  /** "SYN-SENT RST policy" */
  title: string;
  /** The RFC step or situation the policy changes. */
  where: string;
  choices: { readonly [C in Profile[F] & string]: PolicyChoice };
  /** The knobs (other profile fields) the choices read. */
  knobs?: ReadonlyArray<keyof Profile>;
}

/** Identity, typed: `export const synSentRst = policy({ field: "synSentRst", ... })`. */
export function policy<F extends ChoiceField>(p: Policy<F>): Policy<F> {
  return p;
}
