-- AlterTable (the kit's COORDINATOR_NAME_DDL, verbatim)
ALTER TABLE "coordinator_transactions" ADD COLUMN "name" TEXT;
