import axios, { type AxiosInstance } from 'axios';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export interface GuardedHttpOptions {
  /**
   * Hosts (`name` or `name:port`, as written in URLs) the `http` step may call even though they resolve to a loopback,
   * private, link-local or metadata address: `CRMFLOW_HTTP_ALLOW_HOSTS`. Empty by default.
   */
  allowHosts?: readonly string[];
  /** Largest answer read, in bytes; a larger one fails the request. Default 1 MiB. */
  maxAnswerBytes?: number;
  /** Request timeout in ms. Default 30 s. */
  timeoutMs?: number;
  /** Resolves a host name to its addresses; default the system resolver (`dns.lookup`). Tests inject answers. */
  resolve?: (hostname: string, family: number) => Promise<Array<{ address: string; family: number }>>;
}

/** A request refused before it left: its address is internal (and not allowed) or its scheme is not http(s). */
export class BlockedRequestError extends Error {
  override name = 'BlockedRequestError';
}

export const DEFAULT_MAX_ANSWER_BYTES = 1024 * 1024;

/** Addresses workflows must not reach by default: this host, the private networks, link-local (cloud metadata), and the like. */
const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  INTERNAL.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
  ['100::', 64],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6');
}

/** True for a loopback, private, link-local (169.254.169.254 metadata included), multicast or unspecified address. */
export function isInternalAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return INTERNAL.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return INTERNAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The HTTP client of the `http` step. The address a host name resolves to is checked when the connection is made (the
 * same lookup the socket uses, so a DNS answer cannot change in between), IP literals before the request; internal
 * addresses are refused unless the host is allowed. Redirects are not followed here (the step decides); answers are
 * capped; environment proxies are ignored, since they would hide the real destination.
 */
export function createGuardedHttp(options: GuardedHttpOptions = {}): AxiosInstance {
  const allowed = new Set((options.allowHosts ?? []).map((host) => host.trim().toLowerCase()).filter(Boolean));
  const maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  const instance = axios.create({
    timeout: options.timeoutMs ?? 30_000,
    maxRedirects: 0,
    maxContentLength: maxAnswerBytes,
    proxy: false,
  });

  const resolve = options.resolve ?? ((hostname: string, family: number) => lookup(hostname, { all: true, family }));
  const guardedLookup = async (hostname: string, lookupOptions: { family?: number }) => {
    const addresses = await resolve(hostname, lookupOptions.family ?? 0);
    const internal = addresses.find((entry) => isInternalAddress(entry.address));
    if (internal)
      throw new BlockedRequestError(
        `${hostname} resolves to the internal address ${internal.address}; allow it with CRMFLOW_HTTP_ALLOW_HOSTS`,
      );
    return addresses;
  };

  instance.interceptors.request.use((config) => {
    const url = new URL(config.url ?? '', config.baseURL);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new BlockedRequestError(`only http and https URLs are called, not ${url.protocol}`);
    const host = url.hostname.toLowerCase();
    if (allowed.has(host) || allowed.has(url.host.toLowerCase())) return config;
    const literal = host.replace(/^\[|\]$/g, '');
    if (isIP(literal)) {
      if (isInternalAddress(literal))
        throw new BlockedRequestError(`${url.host} is an internal address; allow it with CRMFLOW_HTTP_ALLOW_HOSTS`);
      return config;
    }
    config.lookup = guardedLookup as never;
    return config;
  });
  return instance;
}
