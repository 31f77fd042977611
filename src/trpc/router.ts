import { router } from "./init.ts";
import { auditRouter } from "./routers/audit.ts";
import { authRouter } from "./routers/auth.ts";
import { jwtRouter } from "./routers/jwt.ts";
import { mfaRouter } from "./routers/mfa.ts";
import { passkeysRouter } from "./routers/passkeys.ts";
import { sessionsRouter } from "./routers/sessions.ts";
import { socialRouter } from "./routers/social.ts";
import { tokenRouter } from "./routers/token.ts";
import { usersRouter } from "./routers/users.ts";

export const appRouter = router({
  users: usersRouter,
  token: tokenRouter,
  jwt: jwtRouter,
  sessions: sessionsRouter,
  audit: auditRouter,
  auth: authRouter,
  mfa: mfaRouter,
  passkeys: passkeysRouter,
  social: socialRouter,
});
export type AppRouter = typeof appRouter;
