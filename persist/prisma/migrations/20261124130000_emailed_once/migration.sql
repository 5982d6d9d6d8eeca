-- A recipient is emailed a notification once: the mailer may report it again after a retry.
-- (A partial unique index: Prisma's schema cannot state it, so it lives here only.)
CREATE UNIQUE INDEX "notification_events_emailed_once" ON "notification_events"("notification_id", "recipient_id") WHERE "type" = 'emailed';
