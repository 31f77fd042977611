-- AlterTable
ALTER TABLE "auth_user" ADD COLUMN     "activation_pending" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "link_epoch" TIMESTAMPTZ(6),
ADD COLUMN     "pending_email" VARCHAR(254);

-- Inactive accounts that never logged in and that staff did not deactivate (audited since the
-- audit log exists) are taken to be waiting for their activation link. Every other inactive
-- account counts as deactivated by staff: only staff activate it again (users.setActive).
UPDATE "auth_user" SET "activation_pending" = true
WHERE "is_active" = false AND "last_login" IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM "audit_event" a
    WHERE a."user_id" = "auth_user"."id" AND a."kind" = 'session_revoked' AND a."data"->>'reason' = 'deactivated'
  );
