-- CreateTable
CREATE TABLE "topics" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "creator_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(3),

    CONSTRAINT "topics_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "subscriptions" (
    "topic_id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "subscriptions_pkey" PRIMARY KEY ("topic_id","user_id")
);

-- CreateTable
CREATE TABLE "notifications" (
    "id" UUID NOT NULL,
    "topic_id" UUID NOT NULL,
    "publisher_id" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "email" BOOLEAN NOT NULL DEFAULT false,
    "state" TEXT NOT NULL,
    "tx_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "committed_at" TIMESTAMPTZ(3),

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "notifications_state_check" CHECK ("state" IN ('pending', 'committed'))
);

-- CreateTable
CREATE TABLE "deliveries" (
    "notification_id" UUID NOT NULL,
    "recipient_id" TEXT NOT NULL,
    "ack_state" TEXT NOT NULL DEFAULT 'none',
    "ack_tx_id" TEXT,
    "acked_at" TIMESTAMPTZ(3),

    CONSTRAINT "deliveries_pkey" PRIMARY KEY ("notification_id","recipient_id"),
    CONSTRAINT "deliveries_ack_state_check" CHECK ("ack_state" IN ('none', 'pending', 'acked'))
);

-- CreateTable
CREATE TABLE "notification_events" (
    "id" BIGSERIAL NOT NULL,
    "notification_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "recipient_id" TEXT,
    "detail" JSONB,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notification_events_pkey" PRIMARY KEY ("id")
);


-- CreateIndex
CREATE UNIQUE INDEX "topics_name_key" ON "topics"("name");
CREATE INDEX "topics_creator_id_created_at_idx" ON "topics"("creator_id", "created_at");
CREATE INDEX "topics_created_at_idx" ON "topics"("created_at");
CREATE INDEX "subscriptions_user_id_idx" ON "subscriptions"("user_id");
CREATE UNIQUE INDEX "notifications_tx_id_key" ON "notifications"("tx_id");
CREATE INDEX "notifications_topic_id_created_at_idx" ON "notifications"("topic_id", "created_at");
CREATE INDEX "deliveries_recipient_id_ack_state_idx" ON "deliveries"("recipient_id", "ack_state");
CREATE INDEX "notification_events_notification_id_id_idx" ON "notification_events"("notification_id", "id");
-- AddForeignKey
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_topic_id_fkey" FOREIGN KEY ("topic_id") REFERENCES "topics"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_topic_id_fkey" FOREIGN KEY ("topic_id") REFERENCES "topics"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_notification_id_fkey" FOREIGN KEY ("notification_id") REFERENCES "notifications"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "notification_events" ADD CONSTRAINT "notification_events_notification_id_fkey" FOREIGN KEY ("notification_id") REFERENCES "notifications"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Two-phase-commit participant state (PARTICIPANT_TABLE_DDL in @notify/lib)
CREATE TABLE "two_phase_transactions" (
    "tx_id" TEXT NOT NULL,
    "request_id" TEXT NOT NULL,
    "action" TEXT,
    "payload" JSONB,
    "state" TEXT NOT NULL,
    "timeout_ms" INTEGER NOT NULL,
    "prepared_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "checked_at" TIMESTAMPTZ(3),
    "decided_at" TIMESTAMPTZ(3),
    "reason" TEXT,

    CONSTRAINT "two_phase_transactions_pkey" PRIMARY KEY ("tx_id"),
    CONSTRAINT "two_phase_transactions_state_check" CHECK ("state" IN ('prepared', 'committed', 'aborted'))
);
CREATE UNIQUE INDEX "two_phase_transactions_request_id_key" ON "two_phase_transactions"("request_id");
CREATE INDEX "two_phase_transactions_state_prepared_at_idx" ON "two_phase_transactions"("state", "prepared_at");
