-- Uploaded pictures: the current version of each user's picture, and the bytes of each version
-- when PostgreSQL is the bytes store. A version is written to picture_bytes before pictures names
-- it, and removed only after pictures names another one.
CREATE TABLE "pictures" (
    "user_id" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "format" TEXT NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "bytes" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pictures_pkey" PRIMARY KEY ("user_id"),
    CONSTRAINT "pictures_shape_check" CHECK ("width" > 0 AND "height" > 0 AND "bytes" > 0)
);

CREATE TABLE "picture_bytes" (
    "user_id" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "content_type" TEXT NOT NULL,
    "data" BYTEA NOT NULL,

    CONSTRAINT "picture_bytes_pkey" PRIMARY KEY ("user_id", "version")
);
