// createPortcullisClient: a typed tRPC client of a Portcullis server that sends the caller's
// credential with every call; errorCode: the Portcullis code of a failed call (data.code).
import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from "@trpc/client";

export function createPortcullisClient({ url, getToken, scheme = "Token", headers, fetch, batch = true }) {
  const link = batch ? httpBatchLink : httpLink;
  return createTRPCClient({
    links: [
      link({
        url,
        fetch,
        async headers() {
          const extra = typeof headers === "function" ? await headers() : (headers ?? {});
          const token = getToken ? await getToken() : null;
          return token ? { ...extra, authorization: `${scheme} ${token}` } : extra;
        },
      }),
    ],
  });
}

export function errorCode(error) {
  return error instanceof TRPCClientError && typeof error.data?.code === "string" ? error.data.code : null;
}

export function isPortcullisError(error, code) {
  const got = errorCode(error);
  return got !== null && (code === undefined || got === code);
}
