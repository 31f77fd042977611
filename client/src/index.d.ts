import type { HTTPHeaders, TRPCClient, TRPCClientError } from "@trpc/client";
import type { AppRouter } from "./router.js";

export type * from "./dto.js";
export type { AppRouter } from "./router.js";

type ErrorShape = AppRouter["_def"]["_config"]["$types"]["errorShape"];
type NamedCodes<S> = S extends { data: { code: infer C } } ? (string extends C ? never : C) : never;
/** The codes a Portcullis error names in `data.code` (tRPC's own codes, lowercased, come besides). */
export type PortcullisErrorCode = NamedCodes<ErrorShape>;

export type PortcullisClient = TRPCClient<AppRouter>;

export type PortcullisClientOptions = {
  /** The tRPC endpoint, e.g. "https://auth.example.com/trpc". */
  url: string;
  /** The caller's credential (an opaque token or a JWT access token), or null for none. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** The Authorization keyword: "Token" for opaque tokens (the default), "Bearer" for JWTs. */
  scheme?: string;
  /** Further headers sent with every call. */
  headers?: HTTPHeaders | (() => HTTPHeaders | Promise<HTTPHeaders>);
  /** A fetch of your own (the global one otherwise). */
  fetch?: typeof globalThis.fetch;
  /** Whether calls made together share one HTTP request (true by default). */
  batch?: boolean;
};

/** A typed client of a Portcullis server sending `Authorization: <scheme> <token>` with every call. */
export declare function createPortcullisClient(options: PortcullisClientOptions): PortcullisClient;

/** The Portcullis code of a failed call (`data.code`), or null when `error` is not a tRPC client error. */
export declare function errorCode(error: unknown): PortcullisErrorCode | (string & {}) | null;

/** Whether `error` is a failed call's error (with this code, if given). */
export declare function isPortcullisError(
  error: unknown,
  code?: PortcullisErrorCode | (string & {}),
): error is TRPCClientError<AppRouter>;
