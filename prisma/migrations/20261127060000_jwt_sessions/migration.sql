-- AlterTable
ALTER TABLE "auth_user" ADD COLUMN     "jwt_not_before" TIMESTAMPTZ(6);

-- CreateTable
CREATE TABLE "jwt_session" (
    "id" CHAR(32) NOT NULL,
    "user_id" INTEGER NOT NULL,
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(6),
    "user_agent" VARCHAR(512) NOT NULL DEFAULT '',
    "ip" VARCHAR(45) NOT NULL DEFAULT '',
    "revoked_at" TIMESTAMPTZ(6),
    "revoked_reason" VARCHAR(32),

    CONSTRAINT "jwt_session_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "jwt_refresh_token" (
    "jti" VARCHAR(255) NOT NULL,
    "session_id" CHAR(32) NOT NULL,
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "rotated_at" TIMESTAMPTZ(6),
    "blacklisted_at" TIMESTAMPTZ(6),

    CONSTRAINT "jwt_refresh_token_pkey" PRIMARY KEY ("jti")
);

-- CreateIndex
CREATE INDEX "jwt_session_user_id_idx" ON "jwt_session"("user_id");

-- CreateIndex
CREATE INDEX "jwt_refresh_token_session_id_idx" ON "jwt_refresh_token"("session_id");

-- AddForeignKey
ALTER TABLE "jwt_session" ADD CONSTRAINT "jwt_session_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "auth_user"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "jwt_refresh_token" ADD CONSTRAINT "jwt_refresh_token_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "jwt_session"("id") ON DELETE CASCADE ON UPDATE CASCADE;

