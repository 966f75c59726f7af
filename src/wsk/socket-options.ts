// WskControlSocket's options (docs/wsk.md, "Socket options"): the knobs a Windows developer
// knows (SIO_TCP_INITIAL_RTO, TCP_NODELAY, TCP_MAXSEG, TCP_TIMESTAMPS,
// TCP_FAIL_CONNECT_ON_ICMP_ERROR, SO_WSK_EVENT_CALLBACK) and synack's own (profile, profile
// overrides, backlog). The provider checks the socket and completes the IRP; this file
// decides what an option does to the socket. Microsoft Learn: PFN_WSK_CONTROL_SOCKET,
// SO_WSK_EVENT_CALLBACK, TCP_INITIAL_RTO_PARAMETERS, "IPPROTO_TCP socket options".
import type { Connection } from "../../stack/tcp/connection.js";
import { isProfileName, resolveProfile, type Profile, type ProfileOverrides } from "../../stack/tcp/profiles.js";
import {
  SOL_SOCKET,
  SO_WSK_EVENT_CALLBACK,
  SIO_TCP_INITIAL_RTO,
  TCP_FAIL_CONNECT_ON_ICMP_ERROR,
  TCP_INITIAL_RTO_DEFAULT_MAX_SYN_RETRANSMISSIONS,
  TCP_INITIAL_RTO_DEFAULT_RTT,
  TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS,
  TCP_INITIAL_RTO_UNSPECIFIED_MAX_SYN_RETRANSMISSIONS,
  TCP_INITIAL_RTO_UNSPECIFIED_RTT,
  TCP_MAXSEG,
  TCP_NODELAY,
  TCP_TIMESTAMPS,
  SO_CONDITIONAL_ACCEPT,
  WSK_EVENT_ACCEPT,
  WSK_EVENT_DISABLE,
  WSK_EVENT_DISCONNECT,
  WSK_EVENT_RECEIVE,
  WskGetOption,
  WskIoctl,
  WskSetOption,
  type TCP_INITIAL_RTO_PARAMETERS,
  type WSK_CONTROL_SOCKET_TYPE,
  type WSK_EVENT_CALLBACK_CONTROL,
} from "./constants.js";
import { defaultBacklog, INHERITED_EVENTS, type ListenSide } from "./listen.js";
import { STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED, STATUS_SUCCESS, type NtStatus } from "./ntstatus.js";
import { AF_INET, IPPROTO_TCP, type AddressFamily } from "./sockaddr.js";

/** What the options touch of a listening socket's side (listen.ts ListenSide). */
type ListenOptions = Pick<ListenSide<never, never>, "backlog" | "setProfile" | "acceptEventEnabled">;

/** synack's own SOL_SOCKET option to pick a behaviour profile per socket (docs/wsk.md). */
export const SYNACK_SO_PROFILE = 0x5359_4e01;

/** synack's own SOL_SOCKET option: merge a ProfileOverrides object into the socket's overrides. */
export const SYNACK_SO_PROFILE_OVERRIDES = 0x5359_4e02;

/**
 * synack's own SOL_SOCKET option on a listening or stream socket: how many connections
 * established but not yet accepted it holds (listen()'s backlog; default: listen.ts).
 */
export const SYNACK_SO_BACKLOG = 0x5359_4e03;

/** What an option may read or change on a socket (the provider's socket satisfies it). */
export interface OptionSocket {
  readonly kind: "connection" | "stream" | "listen" | "accepted";
  readonly family: AddressFamily;
  readonly state: string;
  profile: Profile;
  overrides: ProfileOverrides;
  conn: Connection | undefined;
  eventMask: number;
  listen: ListenOptions | undefined;
  backlog: number | undefined;
  conditionalAccept: boolean;
}

/** What the provider lends the options. */
export interface OptionHost {
  /** The interface MTU (TCP_MAXSEG before a connection). */
  mtu(): number;
  /** Indicates data already buffered (the receive event was just enabled). */
  indicateBuffered(s: OptionSocket): void;
  /** Sends what the stack queued (after a listener's waiting connections were handled). */
  afterCall(): void;
}

/** Where an option's value is returned (WskControlSocket's OutputBuffer / OutputSizeReturned). */
export type SetOutput = (value: unknown, size: number) => void;

/**
 * Applies one WskControlSocket request to `s` and returns the status to complete it with.
 * Set options apply to the next connect.
 */
export function controlSocketOption(
  s: OptionSocket,
  host: OptionHost,
  RequestType: WSK_CONTROL_SOCKET_TYPE,
  ControlCode: number,
  Level: number,
  InputBuffer: unknown,
  setOut: SetOutput,
): NtStatus {
  if (RequestType === WskSetOption && Level === SOL_SOCKET && ControlCode === SO_WSK_EVENT_CALLBACK) {
    const ctl = InputBuffer as WSK_EVENT_CALLBACK_CONTROL | undefined;
    if (!ctl || typeof ctl.EventMask !== "number") return STATUS_INVALID_PARAMETER;
    const bits = ctl.EventMask & ~WSK_EVENT_DISABLE;
    // Listening and stream sockets also take WSK_EVENT_ACCEPT; on a listening socket the
    // connection events are those its accepted sockets start with (WskAcceptEvent page).
    const allowed = s.kind === "listen" || s.kind === "stream" ? WSK_EVENT_ACCEPT | INHERITED_EVENTS : WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT;
    if (bits & ~allowed) return STATUS_INVALID_PARAMETER;
    if (ctl.EventMask & WSK_EVENT_DISABLE) s.eventMask &= ~bits;
    else {
      s.eventMask |= bits;
      // Data already buffered is indicated as soon as the receive event is enabled.
      if (bits & WSK_EVENT_RECEIVE && s.conn && s.conn.rcvBuffered > 0) host.indicateBuffered(s);
      // Connections already waiting are indicated as soon as the accept event is enabled
      // (a rejected one is reset: send it).
      if (bits & WSK_EVENT_ACCEPT && s.listen) {
        s.listen.acceptEventEnabled();
        host.afterCall();
      }
    }
    return STATUS_SUCCESS;
  }
  if (Level === SOL_SOCKET && ControlCode === SO_CONDITIONAL_ACCEPT) {
    // SO_CONDITIONAL_ACCEPT page: "applies only to listening sockets" and is set "before the
    // listening socket is bound"; WskInspectComplete is in the listening dispatch only.
    if (s.kind !== "listen") return STATUS_NOT_SUPPORTED;
    if (RequestType === WskSetOption) {
      if (s.state !== "created") return STATUS_INVALID_DEVICE_STATE;
      const v = Number(InputBuffer);
      if (!Number.isFinite(v)) return STATUS_INVALID_PARAMETER;
      s.conditionalAccept = v !== 0;
      return STATUS_SUCCESS;
    }
    setOut(s.conditionalAccept ? 1 : 0, 4);
    return STATUS_SUCCESS;
  }
  if (Level === SOL_SOCKET && (ControlCode as unknown) === SYNACK_SO_BACKLOG) {
    if (RequestType === WskSetOption) {
      const n = Number(InputBuffer);
      if (!Number.isInteger(n) || n < 0) return STATUS_INVALID_PARAMETER;
      s.backlog = n;
      if (s.listen) s.listen.backlog = n;
      return STATUS_SUCCESS;
    }
    setOut(s.listen ? s.listen.backlog : (s.backlog ?? defaultBacklog(s.profile.name)), 4);
    return STATUS_SUCCESS;
  }
  if (RequestType === WskIoctl && ControlCode === SIO_TCP_INITIAL_RTO) {
    const p = InputBuffer as TCP_INITIAL_RTO_PARAMETERS | undefined;
    if (!p || typeof p.Rtt !== "number" || typeof p.MaxSynRetransmissions !== "number") return STATUS_INVALID_PARAMETER;
    if (s.state === "connecting" || s.state === "connected" || s.state === "listening") return STATUS_INVALID_DEVICE_STATE;
    // A count above what the OS accepts is refused, the socket unchanged (Windows: 8 is
    // taken, 10 is "the parameter is incorrect"; profile knob synRetriesLimit).
    const special =
      p.MaxSynRetransmissions === TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS ||
      p.MaxSynRetransmissions === TCP_INITIAL_RTO_DEFAULT_MAX_SYN_RETRANSMISSIONS ||
      p.MaxSynRetransmissions === TCP_INITIAL_RTO_UNSPECIFIED_MAX_SYN_RETRANSMISSIONS;
    if (!special && (!Number.isInteger(p.MaxSynRetransmissions) || p.MaxSynRetransmissions < 0 || p.MaxSynRetransmissions > resolveProfile(s.profile, s.overrides).synRetriesLimit)) return STATUS_INVALID_PARAMETER;
    if (p.Rtt === TCP_INITIAL_RTO_DEFAULT_RTT) delete s.overrides.initialRtoMs;
    else if (p.Rtt !== TCP_INITIAL_RTO_UNSPECIFIED_RTT) s.overrides.initialRtoMs = p.Rtt;
    if (p.MaxSynRetransmissions === TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS) {
      // One SYN only, and a RST refuses at once (Windows 10 1709+).
      s.overrides.synRetries = 0;
      s.overrides.synSentRst = "refuse";
    } else if (p.MaxSynRetransmissions === TCP_INITIAL_RTO_DEFAULT_MAX_SYN_RETRANSMISSIONS) {
      delete s.overrides.synRetries;
    } else if (p.MaxSynRetransmissions !== TCP_INITIAL_RTO_UNSPECIFIED_MAX_SYN_RETRANSMISSIONS) {
      s.overrides.synRetries = p.MaxSynRetransmissions;
    }
    return STATUS_SUCCESS;
  }
  if (Level === IPPROTO_TCP && (RequestType === WskSetOption || RequestType === WskGetOption)) {
    const set = RequestType === WskSetOption;
    const eff = resolveProfile(s.profile, s.overrides);
    const flag = (v: unknown) => (typeof v === "number" ? v !== 0 : Boolean(v));
    switch (ControlCode) {
      case TCP_NODELAY:
        if (set) {
          s.overrides.nodelay = flag(InputBuffer);
          if (s.conn) (s.conn.profile as Profile).nodelay = s.overrides.nodelay;
          if (s.listen) s.listen.setProfile(resolveProfile(s.profile, s.overrides));
        } else setOut(eff.nodelay ? 1 : 0, 4);
        return STATUS_SUCCESS;
      case TCP_FAIL_CONNECT_ON_ICMP_ERROR:
        if (set) s.overrides.failConnectOnIcmpError = flag(InputBuffer);
        else setOut(eff.failConnectOnIcmpError ? 1 : 0, 4);
        return STATUS_SUCCESS;
      case TCP_TIMESTAMPS:
        if (set) {
          if (s.state === "connecting" || s.state === "connected" || s.state === "listening") return STATUS_INVALID_DEVICE_STATE;
          s.overrides.timestamps = flag(InputBuffer);
          // Disabled explicitly: no timestamps at all, also not in answer to a SYN that
          // offers them (the windows profile's synAckOptions otherwise answers them).
          if (!s.overrides.timestamps) s.overrides.synAckOptions = "offered";
          else delete s.overrides.synAckOptions;
        } else setOut(s.conn ? (s.conn.tsEnabled ? 1 : 0) : eff.timestamps ? 1 : 0, 4);
        return STATUS_SUCCESS;
      case TCP_MAXSEG:
        if (set) {
          const v = Number(InputBuffer);
          if (!Number.isInteger(v) || v < 0 || v > 65535) return STATUS_INVALID_PARAMETER;
          s.overrides.mssOverride = v;
          // On a listening socket: the connections whose SYN comes later (Linux copies
          // user_mss into each request at SYN time).
          if (s.listen) s.listen.setProfile(resolveProfile(s.profile, s.overrides));
        } else setOut(s.conn ? s.conn.sndMss : eff.mssOverride || host.mtu() - (s.family === AF_INET ? 40 : 60), 4);
        return STATUS_SUCCESS;
      default:
        return STATUS_NOT_SUPPORTED;
    }
  }
  // Profile overrides (synack's own option): SOL_SOCKET, value a ProfileOverrides object merged
  // into the socket's overrides; they apply to the next connect. Used by the packetdrill runner
  // for POSIX options WSK has no knob for (TCP_NOOPT, TCP_KEEPINIT) and for mapped sysctls.
  if (Level === SOL_SOCKET && (ControlCode as unknown) === SYNACK_SO_PROFILE_OVERRIDES) {
    if (RequestType === WskSetOption) {
      const o = InputBuffer as ProfileOverrides | undefined;
      if (!o || typeof o !== "object") return STATUS_INVALID_PARAMETER;
      if (s.state === "connecting" || s.state === "connected" || s.state === "listening") return STATUS_INVALID_DEVICE_STATE;
      s.overrides = { ...s.overrides, ...o };
      return STATUS_SUCCESS;
    }
    setOut(resolveProfile(s.profile, s.overrides), 0);
    return STATUS_SUCCESS;
  }
  // The profile (synack's own option): SOL_SOCKET, code "profile", value a profile name.
  if (Level === SOL_SOCKET && (ControlCode as unknown) === SYNACK_SO_PROFILE) {
    if (RequestType === WskSetOption) {
      const name = String(InputBuffer);
      if (!isProfileName(name)) return STATUS_INVALID_PARAMETER;
      if (s.state === "connecting" || s.state === "connected" || s.state === "listening") return STATUS_INVALID_DEVICE_STATE;
      s.profile = resolveProfile(name);
      return STATUS_SUCCESS;
    }
    setOut(s.profile.name, s.profile.name.length);
    return STATUS_SUCCESS;
  }
  return STATUS_NOT_SUPPORTED;
}
