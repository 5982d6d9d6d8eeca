-- A publication made with an idempotency key keeps a fingerprint of what was asked (a SHA-256 hex
-- digest, computed by the gateway), so a repeat with the same key and other content is refused.
ALTER TABLE "notifications" ADD COLUMN "fingerprint" TEXT;
