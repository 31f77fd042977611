import { router } from "./init.ts";
import { tokenRouter } from "./routers/token.ts";
import { usersRouter } from "./routers/users.ts";

export const appRouter = router({ users: usersRouter, token: tokenRouter });
export type AppRouter = typeof appRouter;
