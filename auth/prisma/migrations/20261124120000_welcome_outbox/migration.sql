-- CreateTable
CREATE TABLE "welcome_outbox" (
    "user_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,

    CONSTRAINT "welcome_outbox_pkey" PRIMARY KEY ("user_id")
);

-- CreateIndex
CREATE INDEX "welcome_outbox_created_at_idx" ON "welcome_outbox"("created_at");

-- AddForeignKey
ALTER TABLE "welcome_outbox" ADD CONSTRAINT "welcome_outbox_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
