-- The gateway: two-phase-commit coordinator log and push outbox.

-- CreateTable (the kit's COORDINATOR_TABLE_DDL, verbatim)
CREATE TABLE "coordinator_transactions" (
    "tx_id" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "branches" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "decided_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),
    "reason" TEXT,

    CONSTRAINT "coordinator_transactions_pkey" PRIMARY KEY ("tx_id"),
    CONSTRAINT "coordinator_transactions_state_check" CHECK ("state" IN ('pending', 'committed', 'aborted'))
);
CREATE INDEX "coordinator_transactions_open_idx" ON "coordinator_transactions"("state") WHERE "completed_at" IS NULL;

-- CreateTable
CREATE TABLE "push_outbox" (
    "id" BIGSERIAL NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "push_outbox_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "push_outbox_created_at_idx" ON "push_outbox"("created_at");
