-- 2.0.0 "Add user management tables" (2/3): roles and which user holds which role.
CREATE TABLE IF NOT EXISTS roles (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  description text NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS user_roles (
  user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role_id    bigint NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, role_id)
);

CREATE INDEX IF NOT EXISTS user_roles_role_id_idx ON user_roles (role_id);

INSERT INTO roles (name, description) VALUES
  ('admin', 'Full access, including user management'),
  ('editor', 'Read and write bases'),
  ('viewer', 'Read-only access')
ON CONFLICT (name) DO NOTHING;
