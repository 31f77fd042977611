import { router } from "./init.ts";
import { jwtRouter } from "./routers/jwt.ts";
import { tokenRouter } from "./routers/token.ts";
import { usersRouter } from "./routers/users.ts";

export const appRouter = router({ users: usersRouter, token: tokenRouter, jwt: jwtRouter });
export type AppRouter = typeof appRouter;
