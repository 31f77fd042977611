// Social sign-in for typed clients: the same flows as Djoser's o/<provider>/, with the provider
// and the redirect URI as inputs. social.complete answers like auth.login: the credential, or the
// second step (then auth.loginCode).
import { z } from "zod";
import type { AuthorizationUrl, SocialIdentityView, SocialSignIn } from "../../core/dto.ts";
import { idField } from "../../core/inputs.ts";
import * as social from "../../core/social/flows.ts";
import { protectedProcedure, publicProcedure, router } from "../init.ts";

const provider = z.string().min(1).max(64).describe('The provider\'s name: "google-oauth2", "github", "oidc"…');
const begin = z.object({ provider, redirectUri: z.string().max(2048) });
const response = z.object({
  provider,
  code: z.string().max(4096).optional(),
  state: z.string().max(4096),
  iss: z.string().max(2048).optional(),
  error: z.string().max(256).optional(),
});

export const socialRouter = router({
  /** Where to send the user: the provider's authorization URL for this redirect URI. */
  authorizationUrl: publicProcedure
    .input(begin)
    .mutation(
      ({ ctx, input }): Promise<AuthorizationUrl> =>
        social.signInUrl(ctx.deps, input.provider, input.redirectUri, ctx.meta),
    ),
  /** The code and state the provider sent to the redirect URI: {status: "ok", credential, user} or MFA's step. */
  complete: publicProcedure
    .input(response.extend({ credential: z.enum(["token", "jwt"]).optional() }))
    .mutation(
      ({ ctx, input }): Promise<SocialSignIn> =>
        social.completeSignIn(ctx.deps, input.provider, input, ctx.meta, input.credential),
    ),
  identities: protectedProcedure.query(
    ({ ctx }): Promise<SocialIdentityView[]> => social.identities(ctx.deps, ctx.principal),
  ),
  /** Linking a provider to the caller, first step (a recent sign-in needed). */
  linkUrl: protectedProcedure
    .input(begin)
    .mutation(
      ({ ctx, input }): Promise<AuthorizationUrl> =>
        social.linkUrl(ctx.deps, ctx.principal, input.provider, input.redirectUri, ctx.meta),
    ),
  link: protectedProcedure
    .input(response)
    .mutation(
      ({ ctx, input }): Promise<SocialIdentityView> =>
        social.link(ctx.deps, ctx.principal, input.provider, input, ctx.meta),
    ),
  unlink: protectedProcedure
    .input(z.object({ id: idField() }))
    .mutation(async ({ ctx, input }) => void (await social.unlink(ctx.deps, ctx.principal, input.id, ctx.meta))),
});
