-- AlterTable (the kit's COORDINATOR_LEASE_DDL, verbatim)
ALTER TABLE "coordinator_transactions" ADD COLUMN "owner" TEXT NOT NULL DEFAULT '',
ADD COLUMN "lease_until" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;
