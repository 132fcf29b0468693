-- Create index "certification_user_id_submitted_at" to table: "certifications"
CREATE INDEX "certification_user_id_submitted_at" ON "certifications" ("user_id", "submitted_at");
-- Create index "user_created_at" to table: "users"
CREATE INDEX "user_created_at" ON "users" ("created_at");
