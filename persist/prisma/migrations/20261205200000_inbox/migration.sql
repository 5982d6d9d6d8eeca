-- An inbox people can live with: names kept where they were known (the topic's creator, a
-- subscriber, a notification's publisher), a notification's action link, and per-recipient archiving.
ALTER TABLE "topics" ADD COLUMN "creator_name" TEXT NOT NULL DEFAULT '';
ALTER TABLE "subscriptions" ADD COLUMN "user_name" TEXT NOT NULL DEFAULT '';
ALTER TABLE "notifications" ADD COLUMN "publisher_name" TEXT NOT NULL DEFAULT '',
ADD COLUMN "url" TEXT;
ALTER TABLE "deliveries" ADD COLUMN "archived" BOOLEAN NOT NULL DEFAULT false;
