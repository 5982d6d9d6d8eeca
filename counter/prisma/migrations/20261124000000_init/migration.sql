-- CreateTable
CREATE TABLE "counters" (
    "user_id" TEXT NOT NULL,
    "unread" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "counters_pkey" PRIMARY KEY ("user_id"),
    CONSTRAINT "counters_unread_not_negative" CHECK ("unread" >= 0)
);

-- CreateTable
CREATE TABLE "staged_changes" (
    "tx_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "delta" INTEGER NOT NULL,

    CONSTRAINT "staged_changes_pkey" PRIMARY KEY ("tx_id","user_id")
);


-- CreateIndex
CREATE INDEX "staged_changes_user_id_idx" ON "staged_changes"("user_id");

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
