-- 2.0.0 "Add user management tables" (1/3): people who can sign in to the PyAirtable stack.
-- IF NOT EXISTS so that a database where the application already created the table keeps it.
CREATE TABLE IF NOT EXISTS users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email         text NOT NULL,
  display_name  text NOT NULL DEFAULT '',
  password_hash text,
  is_active     boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz
);

-- E-mail addresses are unique regardless of case.
CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower_key ON users (lower(email));
