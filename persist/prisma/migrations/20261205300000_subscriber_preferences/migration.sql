-- Subscriber preferences: per subscription `muted` (no push, no unread, no email: the delivery is
-- stored read, flagged `muted`) and `email` (false: no email for this topic); per user, email for
-- all topics and the digest settings (both digest columns set, or neither: off).
ALTER TABLE "subscriptions" ADD COLUMN "muted" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "subscriptions" ADD COLUMN "email" BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE "deliveries" ADD COLUMN "muted" BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE "user_preferences" (
    "user_id" TEXT NOT NULL,
    "email" BOOLEAN NOT NULL DEFAULT true,
    "digest_threshold" INTEGER,
    "digest_window_minutes" DOUBLE PRECISION,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "user_preferences_pkey" PRIMARY KEY ("user_id"),
    CONSTRAINT "user_preferences_digest_check" CHECK (("digest_threshold" IS NULL) = ("digest_window_minutes" IS NULL))
);
