-- AlterTable
ALTER TABLE "auth_token" ADD COLUMN     "provider" VARCHAR(64);

-- AlterTable
ALTER TABLE "jwt_session" ADD COLUMN     "provider" VARCHAR(64);

-- AlterTable
ALTER TABLE "mfa_login" ALTER COLUMN "factor" SET DATA TYPE VARCHAR(80);

-- CreateTable
CREATE TABLE "social_identity" (
    "id" SERIAL NOT NULL,
    "user_id" INTEGER NOT NULL,
    "provider" VARCHAR(64) NOT NULL,
    "uid" VARCHAR(255) NOT NULL,
    "email" VARCHAR(254) NOT NULL DEFAULT '',
    "email_verified" BOOLEAN NOT NULL DEFAULT false,
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(6),

    CONSTRAINT "social_identity_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "social_state" (
    "id_hash" CHAR(64) NOT NULL,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "social_state_pkey" PRIMARY KEY ("id_hash")
);

-- CreateIndex
CREATE INDEX "social_identity_user_id_idx" ON "social_identity"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "social_identity_provider_uid_key" ON "social_identity"("provider", "uid");

-- CreateIndex
CREATE INDEX "social_state_expires_at_idx" ON "social_state"("expires_at");

-- AddForeignKey
ALTER TABLE "social_identity" ADD CONSTRAINT "social_identity_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "auth_user"("id") ON DELETE CASCADE ON UPDATE CASCADE;
