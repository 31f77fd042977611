// Configuration for the Prisma CLI (generate, and migrate on machines that can run Prisma's
// schema engine). The server itself never reads this file: see src/db/.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  // Only `prisma migrate …` needs a URL, and only a postgresql:// one.
  datasource: {
    url: process.env.DATABASE_URL?.startsWith("postgres")
      ? process.env.DATABASE_URL
      : "postgresql://localhost:5432/portcullis",
  },
});
