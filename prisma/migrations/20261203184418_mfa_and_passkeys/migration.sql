-- auth_user.webauthn_handle is new (all NULL), so its unique index cannot fail on existing rows.
-- AlterTable
ALTER TABLE "auth_token" ADD COLUMN     "amr" VARCHAR(64) NOT NULL DEFAULT 'pwd',
ADD COLUMN     "auth_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- AlterTable
ALTER TABLE "auth_user" ADD COLUMN     "webauthn_handle" VARCHAR(64);

-- AlterTable
ALTER TABLE "jwt_session" ADD COLUMN     "amr" VARCHAR(64) NOT NULL DEFAULT 'pwd',
ADD COLUMN     "auth_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- CreateTable
CREATE TABLE "mfa_method" (
    "id" SERIAL NOT NULL,
    "user_id" INTEGER NOT NULL,
    "name" VARCHAR(16) NOT NULL,
    "secret" VARCHAR(255) NOT NULL DEFAULT '',
    "is_active" BOOLEAN NOT NULL DEFAULT false,
    "is_primary" BOOLEAN NOT NULL DEFAULT false,
    "last_step" BIGINT,
    "code_hash" CHAR(64),
    "code_expires_at" TIMESTAMPTZ(6),
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "mfa_method_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "mfa_backup_code" (
    "id" SERIAL NOT NULL,
    "user_id" INTEGER NOT NULL,
    "code_hash" CHAR(64) NOT NULL,

    CONSTRAINT "mfa_backup_code_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "mfa_login" (
    "token_hash" CHAR(64) NOT NULL,
    "user_id" INTEGER NOT NULL,
    "factor" VARCHAR(16) NOT NULL,
    "credential" VARCHAR(8) NOT NULL,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "mfa_login_pkey" PRIMARY KEY ("token_hash")
);

-- CreateTable
CREATE TABLE "passkey" (
    "id" SERIAL NOT NULL,
    "user_id" INTEGER NOT NULL,
    "credential_id" VARCHAR(1400) NOT NULL,
    "public_key" BYTEA NOT NULL,
    "counter" BIGINT NOT NULL DEFAULT 0,
    "transports" VARCHAR(128) NOT NULL DEFAULT '',
    "device_type" VARCHAR(16) NOT NULL,
    "backed_up" BOOLEAN NOT NULL,
    "aaguid" VARCHAR(36) NOT NULL DEFAULT '',
    "name" VARCHAR(64) NOT NULL DEFAULT '',
    "created" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(6),

    CONSTRAINT "passkey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webauthn_challenge" (
    "key_hash" CHAR(64) NOT NULL,
    "challenge" VARCHAR(128) NOT NULL,
    "purpose" VARCHAR(16) NOT NULL,
    "user_id" INTEGER,
    "data" JSONB,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "webauthn_challenge_pkey" PRIMARY KEY ("key_hash")
);

-- CreateIndex
CREATE UNIQUE INDEX "mfa_method_user_id_name_key" ON "mfa_method"("user_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "mfa_backup_code_user_id_code_hash_key" ON "mfa_backup_code"("user_id", "code_hash");

-- CreateIndex
CREATE INDEX "mfa_login_user_id_idx" ON "mfa_login"("user_id");

-- CreateIndex
CREATE INDEX "mfa_login_expires_at_idx" ON "mfa_login"("expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "passkey_credential_id_key" ON "passkey"("credential_id");

-- CreateIndex
CREATE INDEX "passkey_user_id_idx" ON "passkey"("user_id");

-- CreateIndex
CREATE INDEX "webauthn_challenge_expires_at_idx" ON "webauthn_challenge"("expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "auth_user_webauthn_handle_key" ON "auth_user"("webauthn_handle");

-- AddForeignKey
ALTER TABLE "mfa_method" ADD CONSTRAINT "mfa_method_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "auth_user"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "mfa_backup_code" ADD CONSTRAINT "mfa_backup_code_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "auth_user"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "passkey" ADD CONSTRAINT "passkey_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "auth_user"("id") ON DELETE CASCADE ON UPDATE CASCADE;
