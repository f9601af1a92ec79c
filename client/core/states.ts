/**
 * Connection states as Curator users know them, and the one function that decides
 * which state change (if any) an input causes. Pure, so the order guarantees are
 * tested without sockets: never `reconnected` before `lost` for one outage, never
 * `lost` for a session that had not expired, nothing after `closed`.
 */

/**
 * The state changes a client reports.
 * - `connected`: a new session is open (the first one, or a new one after `lost`).
 * - `suspended`: the socket is gone; the session may still live. Requests wait.
 * - `reconnected`: the same session was resumed; its ephemerals and watches are intact.
 * - `lost`: the session EXPIRED: its ephemerals are gone, its watches too.
 * - `closed`: closed by the user. Final.
 */
export type ConnectionState = "connected" | "suspended" | "reconnected" | "lost" | "closed";

/**
 * Where the client is between state changes:
 * `connecting` (no session yet, or a new one is being opened after `lost`),
 * `open`, `suspended` (resuming), `closed`.
 */
export type Phase = "connecting" | "open" | "suspended" | "closed";

/** What happened, as the session sees it. */
export type StateInput =
  | "opened" // the server answered `connected` with a new session
  | "resumed" // the server answered `connected` for the session we asked to resume
  | "socketLost" // the socket closed, erred, or went quiet
  | "expired" // the server answered `expired`, or the timeout passed with no sign of life
  | "close"; // the user closed the client

export interface Transition {
  phase: Phase;
  /** The state change to report, if any. */
  report?: ConnectionState;
}

/**
 * The transition an input causes in a phase. Inputs that make no sense in a phase
 * (a resume while open, anything after close) change nothing and report nothing.
 *
 * @example
 * transition("open", "socketLost");   // { phase: "suspended", report: "suspended" }
 * transition("suspended", "resumed"); // { phase: "open", report: "reconnected" }
 */
export function transition(phase: Phase, input: StateInput): Transition {
  if (phase === "closed") return { phase };
  if (input === "close") return { phase: "closed", report: "closed" };
  switch (phase) {
    case "connecting":
      if (input === "opened") return { phase: "open", report: "connected" };
      return { phase };
    case "open":
      if (input === "socketLost") return { phase: "suspended", report: "suspended" };
      if (input === "expired") return { phase: "connecting", report: "lost" };
      return { phase };
    case "suspended":
      if (input === "resumed") return { phase: "open", report: "reconnected" };
      if (input === "expired") return { phase: "connecting", report: "lost" };
      return { phase };
  }
}
