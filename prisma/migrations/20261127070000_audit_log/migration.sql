-- CreateTable
CREATE TABLE "audit_event" (
    "id" SERIAL NOT NULL,
    "at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "kind" VARCHAR(48) NOT NULL,
    "user_id" INTEGER,
    "ip" VARCHAR(45) NOT NULL DEFAULT '',
    "user_agent" VARCHAR(512) NOT NULL DEFAULT '',
    "data" JSONB,

    CONSTRAINT "audit_event_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "audit_event_user_id_at_idx" ON "audit_event"("user_id", "at");

-- CreateIndex
CREATE INDEX "audit_event_kind_at_idx" ON "audit_event"("kind", "at");

-- CreateIndex
CREATE INDEX "audit_event_at_idx" ON "audit_event"("at");

